// POST /upload/base64 with a JSON body read as it arrives: the bytes go on to
// S3 while the body still comes, and whatever breaks before the body's end —
// broken base64 mid-way, malformed JSON after the text, a late parameter that
// can no longer apply, a client that hangs up — stores nothing, replaces
// nothing and leaves no unfinished multipart upload.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request as httpRequest, type ClientRequest } from 'node:http'
import { describe, it } from 'node:test'
import { countUnfinishedUploads, eventually, gatewaySuite, objectBody, objectHead, putObject, sha256, uniqueKey } from './helper.js'

const MiB = 1024 * 1024

interface Sent { status: number, body: Record<string, unknown> }

/** POST `pieces` one after another as one JSON body of unknown length; `between` runs before each next piece */
async function post (url: string, pieces: string[], between?: (index: number, req: ClientRequest) => Promise<void>): Promise<Sent> {
  return await new Promise<Sent>((resolve, reject) => {
    const req = httpRequest(`${url}/upload/base64`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }) })
    })
    req.on('error', reject)
    const send = async (): Promise<void> => {
      for (const [index, piece] of pieces.entries()) {
        if (between !== undefined) await between(index, req)
        if (req.destroyed) return
        req.write(piece)
      }
      req.end()
    }
    send().catch(reject)
  })
}

describe('POST /upload/base64, streamed', () => {
  const suite = gatewaySuite()
  const url = (): string => suite.gw.url

  it('sends the bytes on to S3 while the body still arrives, and commits them at its end', async () => {
    const key = uniqueKey('streamed.bin')
    const data = randomBytes(12 * MiB + 5)
    const text = data.toString('base64')
    const cutAt = Math.floor(text.length * 0.8 / 4) * 4
    const answer = await post(url(), [`{"s3_key":${JSON.stringify(key)},"file_base64":"${text.slice(0, cutAt)}`, `${text.slice(cutAt)}"}`], async (index) => {
      if (index !== 1) return
      // 9.6 MiB decoded: a multipart upload is under way, no object yet
      await eventually('a multipart upload under way', async () => await countUnfinishedUploads(suite.s3, key) === 1)
      assert.equal(await objectHead(suite.s3, key), undefined)
    })
    assert.equal(answer.status, 201, JSON.stringify(answer.body))
    assert.equal(answer.body.size, data.length)
    assert.equal(answer.body.sha256, sha256(data))
    assert.ok((await objectBody(suite.s3, key))?.equals(data))
    assert.equal(await countUnfinishedUploads(suite.s3, key), 0)
  })

  const broken: Array<{ what: string, tail: string, code: string }> = [
    { what: 'broken base64 mid-way', tail: '!!!!AAAA"}', code: 'INVALID_BASE64' },
    { what: 'malformed JSON after the text', tail: '", }', code: 'INVALID_PARAMETER' },
    { what: 'text after the object', tail: '"} {}', code: 'INVALID_PARAMETER' },
    { what: 'a body that ends inside the object', tail: '", "sha256": "', code: 'INVALID_PARAMETER' },
    { what: 'a content_type after 1 MiB of text', tail: '", "content_type": "text/plain"}', code: 'INVALID_PARAMETER' },
    { what: 'another s3_key after the text', tail: '", "s3_key": "elsewhere.bin"}', code: 'INVALID_PARAMETER' },
    { what: 'a sha256 after the text that does not match', tail: `", "sha256": "${sha256('other')}"}`, code: 'CHECKSUM_MISMATCH' },
    { what: 'a malformed sha256 after the text', tail: '", "sha256": "xyz"}', code: 'INVALID_PARAMETER' },
    { what: 'file_base64 twice', tail: '", "file_base64": "AAAA"}', code: 'INVALID_PARAMETER' }
  ]
  for (const { what, tail, code } of broken) {
    it(`${what} → 400-class ${code}; the earlier object stays, nothing unfinished`, async () => {
      const key = uniqueKey('kept.bin')
      await putObject(suite.s3, key, 'earlier')
      const text = randomBytes(9 * MiB).toString('base64')
      const answer = await post(url(), [`{"s3_key":${JSON.stringify(key)},"file_base64":"${text.slice(0, 8 * MiB)}`, text.slice(8 * MiB), tail])
      assert.ok(answer.status >= 400 && answer.status < 500, `${answer.status} ${JSON.stringify(answer.body)}`)
      assert.equal(answer.body.code, code, JSON.stringify(answer.body))
      assert.equal((await objectBody(suite.s3, key))?.toString(), 'earlier')
      await eventually('no unfinished upload', async () => await countUnfinishedUploads(suite.s3, key) === 0)
    })
  }

  it('a client that hangs up mid-body: nothing stored, nothing unfinished', async () => {
    const key = uniqueKey('hung-up.bin')
    const text = randomBytes(9 * MiB).toString('base64')
    await assert.rejects(post(url(), [`{"s3_key":${JSON.stringify(key)},"file_base64":"${text.slice(0, 8 * MiB)}`, 'never'], async (index, req) => {
      if (index !== 1) return
      await eventually('a multipart upload under way', async () => await countUnfinishedUploads(suite.s3, key) === 1)
      req.destroy()
    }))
    await eventually('no unfinished upload', async () => await countUnfinishedUploads(suite.s3, key) === 0)
    assert.equal(await objectHead(suite.s3, key), undefined)
  })

  it('a key after the text: held until the body ends, then stored', async () => {
    const key = uniqueKey('key-last.bin')
    const data = randomBytes(3 * MiB)
    const answer = await post(url(), [`{"file_base64":"${data.toString('base64')}",`, `"content_type":"application/x-late","s3_key":${JSON.stringify(key)},"sha256":"${sha256(data)}"}`])
    assert.equal(answer.status, 201, JSON.stringify(answer.body))
    assert.ok((await objectBody(suite.s3, key))?.equals(data))
    assert.equal((await objectHead(suite.s3, key))?.contentType, 'application/x-late')
  })

  it('parameters after a short text still apply (content_type, sha256, presign)', async () => {
    const key = uniqueKey('late.txt')
    const answer = await post(url(), [`{"s3_key":${JSON.stringify(key)},"file_base64":"data:text/plain;base64,aGVsbG8=",`, `"content_type":"text/x-late","sha256":"${sha256('hello')}","generate_presigned_url":true}`])
    assert.equal(answer.status, 201, JSON.stringify(answer.body))
    assert.equal(answer.body.content_type, 'text/x-late')
    assert.equal(typeof answer.body.presigned_url, 'string')
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'hello')
  })

  it('refuses __proto__ and constructor members at any depth, storing nothing', async () => {
    for (const body of ['{"__proto__":{"x":1},"s3_key":"p.bin","file_base64":"YQ=="}', '{"s3_key":"p.bin","meta":{"constructor":1},"file_base64":"YQ=="}']) {
      const answer = await post(url(), [body])
      assert.equal(answer.status, 400)
      assert.equal(answer.body.code, 'INVALID_PARAMETER')
    }
    assert.equal(await objectHead(suite.s3, 'p.bin'), undefined)
  })
})

describe('POST /upload/base64, streamed: BASE64_STREAMS bodies decoded at once', () => {
  const suite = gatewaySuite({ BASE64_STREAMS: '1' })

  it('a second body waits, unread, for the first to end; then both are stored whole', async () => {
    const first = { key: uniqueKey('turn-1.bin'), data: randomBytes(6 * MiB + 1) }
    const second = { key: uniqueKey('turn-2.bin'), data: randomBytes(6 * MiB + 2) }
    const body = (key: string, data: Buffer): string => `{"s3_key":${JSON.stringify(key)},"file_base64":"${data.toString('base64')}"}`
    const text = body(first.key, first.data)
    const cutAt = Math.floor(text.length * 0.9)
    let secondAnswer: Promise<Sent> | undefined
    const firstAnswer = await post(suite.gw.url, [text.slice(0, cutAt), text.slice(cutAt)], async (index) => {
      if (index !== 1) return
      // the first is under way (its turn), the second sent whole meanwhile
      await eventually('the first upload under way', async () => await countUnfinishedUploads(suite.s3, first.key) === 1)
      secondAnswer = post(suite.gw.url, [body(second.key, second.data)])
      // without turns it is stored and answered in well under a second
      const early = await Promise.race([secondAnswer.then(() => 'answered'), new Promise((resolve) => setTimeout(() => { resolve('waiting') }, 3000))])
      assert.equal(early, 'waiting', 'the second waits for its turn')
      assert.equal(await countUnfinishedUploads(suite.s3, second.key), 0, 'no upload of it yet')
      assert.equal(await objectHead(suite.s3, second.key), undefined)
    })
    assert.equal(firstAnswer.status, 201, JSON.stringify(firstAnswer.body))
    assert.ok(secondAnswer !== undefined)
    const answer = await secondAnswer
    assert.equal(answer.status, 201, JSON.stringify(answer.body))
    assert.ok((await objectBody(suite.s3, first.key))?.equals(first.data))
    assert.ok((await objectBody(suite.s3, second.key))?.equals(second.data))
  })
})

// POST /upload/base64 and GET|POST /download/base64 end to end over HTTP.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { BASE64_WARNING } from '../src/tools/download-base64.js'
import { fetchJson, gatewaySuite, objectBody, objectHead, postJson, putObject, sha256, startGateway, uniqueKey, type Gateway, type JsonAnswer } from './helper.js'

const MiB = 1024 * 1024

/** GET without a body, POST with a JSON one */
async function call (url: string, body?: unknown): Promise<JsonAnswer> {
  return body === undefined ? await fetchJson(url) : await postJson(url, body)
}

describe('base64 tools', () => {
  const suite = gatewaySuite()
  let small: Gateway

  before(async () => { small = await startGateway(suite.s3, { BASE64_MAX_BYTES: String(MiB) }) })
  after(async () => { await small.close() })

  describe('POST /upload/base64', () => {
    it('decodes and stores, answering the upload fields', async () => {
      const key = uniqueKey('hello.txt')
      const { status, body } = await call(`${suite.gw.url}/upload/base64`, { s3_key: key, file_base64: Buffer.from('hello base64').toString('base64') })
      assert.equal(status, 201)
      assert.equal(body.key, key)
      assert.equal(body.size, 12)
      assert.equal(body.content_type, 'text/plain')
      assert.equal(body.sha256, sha256('hello base64'))
      assert.equal((await objectBody(suite.s3, key))?.toString(), 'hello base64')
    })

    it('accepts a data: URI prefix (its MIME type is stored) and line breaks', async () => {
      const key = uniqueKey('pixel')
      const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex')
      const wrapped = png.toString('base64').replace(/(.{8})/g, '$1\r\n')
      const { status, body } = await call(`${suite.gw.url}/upload/base64`, { filename: key, file_base64: `data:image/png;base64,${wrapped}` })
      assert.equal(status, 201)
      assert.equal(body.content_type, 'image/png')
      assert.deepEqual(await objectBody(suite.s3, key), png)
      assert.equal((await objectHead(suite.s3, key))?.contentType, 'image/png')
    })

    it('takes parameters from the query too, the body winning; content_type wins over the data: type', async () => {
      const key = uniqueKey('q.bin')
      const { status, body } = await call(`${suite.gw.url}/upload/base64?s3_key=${encodeURIComponent(key)}&content_type=text/csv&generate_presigned_url=1`, {
        file_base64: 'data:text/plain;base64,YSxi', content_type: 'application/x-custom'
      })
      assert.equal(status, 201)
      assert.equal(body.key, key)
      assert.equal(body.content_type, 'application/x-custom')
      assert.equal(typeof body.presigned_url, 'string')
      assert.equal(body.presigned_expires_in, 3600)
    })

    it('ignores a malformed data: MIME type (guessing from the key instead)', async () => {
      const key = uniqueKey('odd.csv')
      const { status, body } = await call(`${suite.gw.url}/upload/base64`, { s3_key: key, file_base64: 'data:te\u0001xt/plain;base64,YQ==' })
      assert.equal(status, 201)
      assert.equal(body.content_type, 'text/csv')
    })

    it('treats file_base64 "" as absent (MISSING_FILE), but stores an empty file from an empty data: URI', async () => {
      const { status, body } = await call(`${suite.gw.url}/upload/base64`, { s3_key: uniqueKey('e.txt'), file_base64: '' })
      assert.equal(status, 400)
      assert.equal(body.code, 'MISSING_FILE')
      const key = uniqueKey('empty.txt')
      const empty = await call(`${suite.gw.url}/upload/base64`, { s3_key: key, file_base64: 'data:text/plain;base64,' })
      assert.equal(empty.status, 201)
      assert.equal(empty.body.size, 0)
      assert.equal((await objectBody(suite.s3, key))?.length, 0)
    })

    for (const [why, text] of [
      ['a character outside the alphabet', 'aGVsbG8*'],
      ['the URL-safe alphabet', 'aGk_aGk-'],
      ['a length that is not a multiple of 4', 'aGVsbG8'],
      ['padding in the middle', 'aG==bG8='],
      ['three padding characters', 'aG==='],
      ['non-canonical trailing bits', 'aGk='.replace('k', 'l')],
      ['a JSON number instead of a string', 42]
    ] as const) {
      it(`answers 400 (INVALID_BASE64 or INVALID_PARAMETER) for ${why} and stores nothing`, async () => {
        const key = uniqueKey('bad.bin')
        const { status, body } = await call(`${suite.gw.url}/upload/base64`, { s3_key: key, file_base64: text })
        assert.equal(status, 400)
        assert.equal(body.code, typeof text === 'number' ? 'INVALID_PARAMETER' : 'INVALID_BASE64')
        assert.equal(await objectHead(suite.s3, key), undefined)
      })
    }

    it('answers 400 CHECKSUM_MISMATCH on a wrong sha256 and keeps the earlier object', async () => {
      const key = uniqueKey('keep.txt')
      await putObject(suite.s3, key, 'earlier')
      const { status, body } = await call(`${suite.gw.url}/upload/base64`, { s3_key: key, file_base64: 'bmV3', sha256: sha256('other') })
      assert.equal(status, 400)
      assert.equal(body.code, 'CHECKSUM_MISMATCH')
      assert.equal((await objectBody(suite.s3, key))?.toString(), 'earlier')
    })

    it('answers 400 INVALID_KEY for a key JSON can hold but UTF-8 cannot (a lone surrogate)', async () => {
      const { status, body } = await call(`${suite.gw.url}/upload/base64`, '{"s3_key":"a\\ud800b","file_base64":"YQ=="}')
      assert.equal(status, 400)
      assert.equal(body.code, 'INVALID_KEY')
    })

    it('answers 400 MISSING_KEY and MISSING_FILE', async () => {
      assert.equal((await call(`${suite.gw.url}/upload/base64`, { file_base64: 'YQ==' })).body.code, 'MISSING_KEY')
      assert.equal((await call(`${suite.gw.url}/upload/base64`, { s3_key: 'a.txt' })).body.code, 'MISSING_FILE')
    })

    it('answers 413 above BASE64_MAX_BYTES, from the decoded size', async () => {
      const key = uniqueKey('big.bin')
      const { status, body } = await call(`${small.url}/upload/base64`, { s3_key: key, file_base64: Buffer.alloc(MiB + 3).toString('base64') })
      assert.equal(status, 413)
      assert.equal(body.code, 'PAYLOAD_TOO_LARGE')
      assert.equal(await objectHead(suite.s3, key), undefined)
      // exactly at the limit is fine
      const ok = await call(`${small.url}/upload/base64`, { s3_key: key, file_base64: Buffer.alloc(MiB).toString('base64') })
      assert.equal(ok.status, 201)
    })

    it('answers 413 for a body far over the limit before parsing it', async () => {
      const res = await fetch(`${small.url}/upload/base64`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s3_key: 'x', file_base64: 'A'.repeat(4 * MiB) }) })
      assert.equal(res.status, 413)
      assert.equal((await res.json() as Record<string, unknown>).code, 'PAYLOAD_TOO_LARGE')
    })

    it('answers 400 for malformed JSON and 415 for a non-JSON body', async () => {
      const bad = await call(`${suite.gw.url}/upload/base64`, '{"s3_key": ')
      assert.equal(bad.status, 400)
      assert.equal(bad.body.code, 'INVALID_PARAMETER')
      const res = await fetch(`${suite.gw.url}/upload/base64`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'YQ==' })
      assert.equal(res.status, 415)
      assert.equal((await res.json() as Record<string, unknown>).code, 'UNSUPPORTED_MEDIA_TYPE')
    })
  })

  describe('/download/base64', () => {
    it('answers the object as one JSON document with content_base64', async () => {
      const key = uniqueKey('img/logo.png')
      const data = Buffer.from([0, 1, 2, 250, 251, 252, 253])
      await putObject(suite.s3, key, data, 'image/png')
      const { status, body, headers } = await call(`${suite.gw.url}/download/base64?s3_key=${encodeURIComponent(key)}`)
      assert.equal(status, 200)
      assert.match(headers.get('content-type') ?? '', /^application\/json/)
      assert.equal(body.bucket, suite.s3.bucket)
      assert.equal(body.key, key)
      assert.equal(body.size, data.length)
      assert.equal(body.content_type, 'image/png')
      assert.match(String(body.etag), /^"[0-9a-f]{32}"$/)
      assert.ok(!Number.isNaN(Date.parse(String(body.last_modified))))
      assert.equal(body.content_base64, data.toString('base64'))
      assert.equal(body.warning, undefined)
      assert.equal(body.presigned_url, undefined)
    })

    it('answers POST with JSON parameters, with a presigned URL when asked', async () => {
      const key = uniqueKey('p.txt')
      await putObject(suite.s3, key, 'post me', 'text/plain')
      const { status, body } = await call(`${suite.gw.url}/download/base64`, { s3_key: key, generate_presigned_url: true, presigned_expiration: 60 })
      assert.equal(status, 200)
      assert.equal(Buffer.from(String(body.content_base64), 'base64').toString(), 'post me')
      assert.equal(body.presigned_expires_in, 60)
      const direct = await fetch(String(body.presigned_url))
      assert.equal(await direct.text(), 'post me')
    })

    it('round-trips every byte value and sizes around the 3-byte boundary through the streaming encoder', async () => {
      for (const size of [0, 1, 2, 3, 4, 65_535, 65_536, 65_537, 3 * MiB + 1]) {
        const key = uniqueKey(`s${size}.bin`)
        const data = Buffer.alloc(size)
        for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 8)) & 0xff
        await putObject(suite.s3, key, data)
        const { status, body } = await call(`${suite.gw.url}/download/base64?s3_key=${encodeURIComponent(key)}`)
        assert.equal(status, 200, `size ${size}`)
        assert.equal(body.content_base64, data.toString('base64'), `size ${size}`)
      }
    })

    it('adds the warning when the base64 text exceeds 1 MiB', async () => {
      const key = uniqueKey('large.bin')
      await putObject(suite.s3, key, Buffer.alloc(800 * 1024, 1))
      const { status, body, headers } = await call(`${suite.gw.url}/download/base64?s3_key=${encodeURIComponent(key)}`)
      assert.equal(status, 200)
      assert.equal(body.warning, BASE64_WARNING)
      assert.match(String(body.warning), /\/download\/file/)
      assert.equal(Number(headers.get('content-length')) > MiB, true)
      // just under: 768 KiB encodes to exactly 1 MiB of text
      const under = uniqueKey('under.bin')
      await putObject(suite.s3, under, Buffer.alloc(768 * 1024, 1))
      assert.equal((await call(`${suite.gw.url}/download/base64?s3_key=${encodeURIComponent(under)}`)).body.warning, undefined)
    })

    it('answers 413 above BASE64_MAX_BYTES, pointing to /download/file or a presigned URL', async () => {
      const key = uniqueKey('too-big.bin')
      await putObject(suite.s3, key, Buffer.alloc(MiB + 1))
      const { status, body } = await call(`${small.url}/download/base64?s3_key=${encodeURIComponent(key)}`)
      assert.equal(status, 413)
      assert.equal(body.code, 'PAYLOAD_TOO_LARGE')
      assert.match(String(body.message), /\/download\/file/)
      assert.match(String(body.message), /presigned/)
    })

    it('answers 404 NOT_FOUND and 400 MISSING_KEY', async () => {
      assert.equal((await call(`${suite.gw.url}/download/base64?s3_key=${encodeURIComponent(uniqueKey('nope'))}`)).body.code, 'NOT_FOUND')
      assert.equal((await call(`${suite.gw.url}/download/base64`)).body.code, 'MISSING_KEY')
    })
  })
})

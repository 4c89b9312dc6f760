// Form file parts streamed as one PUT of the length the request's
// Content-Length leaves for them (src/s3/guessed.ts; past UPLOAD_GUESS_MAX_MIB
// staged and copied into place, src/s3/staged.ts): right for the form's last
// part (Dify's and curl's shape), wrong for every other shape, and either
// way the object is exactly the part's bytes; a part that fails stores
// nothing and replaces nothing, and no staged object stays.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { countUnfinishedUploads, eventually, gatewaySuite, objectBody, putObject, sha256, uniqueKey, type TestS3 } from './helper.js'
import { hangUpMidBody, send } from './http.js'

const MiB = 1024 * 1024
const BOUNDARY = 'GuessBoundary9f8e7d6c'

type Piece = { field: string, value: string } | { file: string, data: Buffer }

/** a form built exactly: `closing` is what follows the last part (curl's and httpx's: `--B--\r\n`) */
function form (pieces: Piece[], closing = `--${BOUNDARY}--\r\n`): Buffer {
  const out: Buffer[] = []
  for (const piece of pieces) {
    const head = 'field' in piece
      ? `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${piece.field}"\r\n\r\n`
      : `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${piece.file}"\r\nContent-Type: application/octet-stream\r\n\r\n`
    out.push(Buffer.from(head), 'field' in piece ? Buffer.from(piece.value) : piece.data, Buffer.from('\r\n'))
  }
  out.push(Buffer.from(closing))
  return Buffer.concat(out)
}

const headers = (body: Buffer): Record<string, string | number> => ({ 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': body.length })

type Suite = ReturnType<typeof gatewaySuite>

/** a form with `s3_key` and a file part that says it has `declared` bytes: `sent` of them go, then the client hangs up */
async function hangUpInFile (suite: Suite, key: string, declared: number, sent: number): Promise<void> {
  const head = form([{ field: 's3_key', value: key }]).subarray(0, -`--${BOUNDARY}--\r\n`.length)
  const prefix = Buffer.concat([head, Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n`)])
  await hangUpMidBody(`${suite.gw.url}/upload/file`, { headers: { ...headers(Buffer.alloc(0)), 'content-length': prefix.length + declared + 100 }, prefix, bytes: sent })
}

/** the objects under the default UPLOAD_STAGING_PREFIX */
async function staged (s3: TestS3): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: '.gateway-staging/' }))
  return (listed.Contents ?? []).map((o) => o.Key ?? '')
}

/** the store's counts of right and wrong guesses, an upload that reports how they moved, and the check of a file over the limit */
function guessing (suite: Suite): { guesses: () => { right: number, wrong: number }, upload: (path: string, body: Buffer) => Promise<{ status: number, json: Record<string, unknown>, right: number, wrong: number }>, overTheLimit: (bytes: number) => Promise<void> } {
  const guesses = (): { right: number, wrong: number } => ({ ...suite.gw.app.store.guesses })
  /** POST the form in 64 KiB writes (so that a file spans many chunks); the answer, and how the guesses moved */
  const upload = async (path: string, body: Buffer): Promise<{ status: number, json: Record<string, unknown>, right: number, wrong: number }> => {
    const before = guesses()
    const chunks: Buffer[] = []
    for (let at = 0; at < body.length; at += 64 * 1024) chunks.push(body.subarray(at, at + 64 * 1024))
    const res = await send(`${suite.gw.url}${path}`, { headers: headers(body), chunks })
    const after = guesses()
    return { status: res.status, json: JSON.parse(res.body.toString()) as Record<string, unknown>, right: after.right - before.right, wrong: after.wrong - before.wrong }
  }
  /** a file of `bytes`, over the largest length kept in memory: staged (a right guess), stored exactly, nothing left staged */
  const overTheLimit = async (bytes: number): Promise<void> => {
    const key = uniqueKey('big.bin')
    const data = randomBytes(bytes)
    const answer = await upload('/upload/file', form([{ field: 's3_key', value: key }, { file: 'big.bin', data }]))
    assert.equal(answer.status, 201)
    assert.ok((await objectBody(suite.s3, key))?.equals(data))
    assert.deepEqual([answer.right, answer.wrong], [1, 0])
    assert.deepEqual(await staged(suite.s3), [])
  }
  return { guesses, upload, overTheLimit }
}

describe('form file parts of a guessed length', () => {
  const suite = gatewaySuite()
  const { guesses, upload, overTheLimit } = guessing(suite)

  const shapes: Array<{ what: string, pieces: (key: string, data: Buffer) => Piece[], closing?: string, right: number, wrong: number }> = [
    { what: 'fields first, the file last (Dify, curl -F key=… -F file=@…)', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }], right: 1, wrong: 0 },
    { what: 'a field after the file (curl -F file=@… -F note=…)', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }, { field: 'note', value: 'after' }], right: 0, wrong: 1 },
    { what: 'a closing boundary without its line break', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }], closing: `--${BOUNDARY}--`, right: 0, wrong: 1 },
    { what: 'an epilogue after the closing boundary', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }], closing: `--${BOUNDARY}--\r\nan epilogue, which RFC 2046 allows\r\n`, right: 0, wrong: 1 }
  ]
  for (const shape of shapes) {
    for (const size of [3 * MiB + 17, 6 * MiB]) {
      it(`${shape.what}, ${size} bytes: stored exactly (guess ${shape.right === 1 ? 'right' : 'wrong'})`, async () => {
        const key = uniqueKey('guess.bin')
        const data = randomBytes(size)
        const answer = await upload('/upload/file', form(shape.pieces(key, data), shape.closing))
        assert.equal(answer.status, 201, JSON.stringify(answer.json))
        assert.equal(answer.json.sha256, sha256(data))
        assert.ok((await objectBody(suite.s3, key))?.equals(data))
        assert.deepEqual([answer.right, answer.wrong], [shape.right, shape.wrong])
        assert.equal(await countUnfinishedUploads(suite.s3, key), 0)
      })
    }
  }

  it('a form that arrives whole at once: its file\'s length is known exactly, nothing is guessed', async () => {
    const key = uniqueKey('small.bin')
    const body = form([{ file: 'a.bin', data: Buffer.from('x') }, { field: 'note', value: 'after' }])
    const before = guesses()
    const res = await send(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { headers: headers(body), chunks: [body] })
    assert.equal(res.status, 201)
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'x')
    assert.deepEqual(guesses(), before)
  })

  it('an array[file] of three: the first two guessed wrong, the last right, all three stored', async () => {
    const prefix = uniqueKey('array')
    const files = [randomBytes(2 * MiB), randomBytes(MiB + 5), randomBytes(3 * MiB)]
    const answer = await upload('/upload/files', form([{ field: 'prefix', value: prefix }, ...files.map((data, i) => ({ file: `f${i}.bin`, data }))]))
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    for (const [i, data] of files.entries()) assert.ok((await objectBody(suite.s3, `${prefix}/f${i}.bin`))?.equals(data), `file ${i}`)
    assert.deepEqual([answer.right, answer.wrong], [1, 2])
  })

  it('a file over the largest length kept in memory is staged and copied into place, stored exactly', async () => { await overTheLimit(17 * MiB) })

  it('a sha256 that does not match, on a guess that was right: 400, the earlier object stays', async () => {
    const key = uniqueKey('kept.bin')
    await putObject(suite.s3, key, 'earlier')
    const answer = await upload('/upload/file', form([{ field: 's3_key', value: key }, { field: 'sha256', value: sha256('other') }, { file: 'a.bin', data: randomBytes(2 * MiB) }]))
    assert.equal(answer.status, 400)
    assert.equal(answer.json.code, 'CHECKSUM_MISMATCH')
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'earlier')
  })

  it('a form cut short inside its file (a Content-Length that lies): 400, the earlier object stays', async () => {
    const key = uniqueKey('kept.bin')
    await putObject(suite.s3, key, 'earlier')
    const body = form([{ field: 's3_key', value: key }, { file: 'a.bin', data: randomBytes(2 * MiB) }])
    const cut = body.subarray(0, body.length - 1000)
    const res = await send(`${suite.gw.url}/upload/file`, { headers: headers(cut), chunks: [cut] })
    assert.equal(res.status, 400)
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'earlier')
    assert.equal(await countUnfinishedUploads(suite.s3, key), 0)
  })

  it('a client that hangs up inside a guessed file: nothing stored, the earlier object stays', async () => {
    const key = uniqueKey('kept.bin')
    await putObject(suite.s3, key, 'earlier')
    const before = guesses()
    await hangUpInFile(suite, key, 4 * MiB, 2 * MiB)
    await eventually('the upload failed', async () => (await objectBody(suite.s3, key))?.toString() === 'earlier' && await countUnfinishedUploads(suite.s3, key) === 0)
    // it was taken the guessed way, and neither guess was counted: it failed
    assert.deepEqual(guesses(), before)
  })
})

describe('form file parts of a guessed length, UPLOAD_GUESS_MAX_MIB raised', () => {
  const suite = gatewaySuite({ UPLOAD_GUESS_MAX_MIB: '20', UPLOAD_GUESS_MIB: '40' })
  const { upload, overTheLimit } = guessing(suite)

  it('a file of 18 MiB, the form\'s last part: one PUT of the guessed length, stored exactly', async () => {
    const key = uniqueKey('raised.bin')
    const data = randomBytes(18 * MiB)
    const answer = await upload('/upload/file', form([{ field: 's3_key', value: key }, { file: 'a.bin', data }]))
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    assert.equal(answer.json.sha256, sha256(data))
    assert.ok((await objectBody(suite.s3, key))?.equals(data))
    assert.deepEqual([answer.right, answer.wrong], [1, 0])
  })

  it('8 MiB and 10 MiB in one form: the first guessed wrong (its kept bytes go again in parts), the second right, both exact', async () => {
    const prefix = uniqueKey('raised-array')
    const files = [randomBytes(8 * MiB), randomBytes(10 * MiB)]
    const answer = await upload('/upload/files', form([{ field: 'prefix', value: prefix }, ...files.map((data, i) => ({ file: `f${i}.bin`, data }))]))
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    for (const [i, data] of files.entries()) assert.ok((await objectBody(suite.s3, `${prefix}/f${i}.bin`))?.equals(data), `file ${i}`)
    assert.deepEqual([answer.right, answer.wrong], [1, 1])
    assert.equal(await countUnfinishedUploads(suite.s3, `${prefix}/f0.bin`), 0)
  })

  it('a file over the raised limit is staged, stored exactly', async () => { await overTheLimit(21 * MiB) })
})

describe('form file parts too large to keep: staged under UPLOAD_STAGING_PREFIX, then copied into place', () => {
  // parts of 5 MiB and more are staged, smaller ones past 1 MiB go in parts
  const suite = gatewaySuite({ UPLOAD_GUESS_MAX_MIB: '1', UPLOAD_GUESS_MIB: '2' })
  const { guesses, upload } = guessing(suite)
  const SIZE = 6 * MiB + 17

  const shapes: Array<{ what: string, pieces: (key: string, data: Buffer) => Piece[], closing?: string, right: number, wrong: number }> = [
    { what: 'the file last: one CopyObject of the staged file', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }], right: 1, wrong: 0 },
    { what: 'a field after the file: the staged PUT filled up, the file copied by range', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }, { field: 'note', value: 'after' }], right: 0, wrong: 1 },
    { what: 'a closing without its line break: two bytes past the guess, sent after the copy', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }], closing: `--${BOUNDARY}--`, right: 0, wrong: 1 },
    { what: 'an epilogue after the closing boundary', pieces: (key, data) => [{ field: 's3_key', value: key }, { file: 'a.bin', data }], closing: `--${BOUNDARY}--\r\nan epilogue\r\n`, right: 0, wrong: 1 }
  ]
  for (const shape of shapes) {
    it(`${shape.what}: stored exactly, its type kept, nothing left staged`, async () => {
      const key = uniqueKey('staged.bin')
      await putObject(suite.s3, key, 'earlier')
      const data = randomBytes(SIZE)
      const answer = await upload('/upload/file', form(shape.pieces(key, data), shape.closing))
      assert.equal(answer.status, 201, JSON.stringify(answer.json))
      assert.equal(answer.json.sha256, sha256(data))
      assert.equal(answer.json.size, SIZE)
      assert.ok((await objectBody(suite.s3, key))?.equals(data))
      const head = await suite.s3.client.send(new ListObjectsV2Command({ Bucket: suite.s3.bucket, Prefix: key }))
      assert.equal(head.Contents?.[0]?.Size, SIZE)
      assert.deepEqual([answer.right, answer.wrong], [shape.right, shape.wrong])
      assert.equal(await countUnfinishedUploads(suite.s3, key), 0)
      assert.deepEqual(await staged(suite.s3), [])
    })
  }

  it('an array[file] of 6, 5 and 7 MiB and a small file: each exact, the last guessed right', async () => {
    const prefix = uniqueKey('staged-array')
    const files = [randomBytes(6 * MiB), randomBytes(5 * MiB + 3), randomBytes(100), randomBytes(7 * MiB)]
    const answer = await upload('/upload/files', form([{ field: 'prefix', value: prefix }, ...files.map((data, i) => ({ file: `f${i}.bin`, data }))]))
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    for (const [i, data] of files.entries()) assert.ok((await objectBody(suite.s3, `${prefix}/f${i}.bin`))?.equals(data), `file ${i}`)
    // the large ones before the last were guessed wrong (the small one too, if its end came in a later chunk)
    assert.equal(answer.right, 1)
    assert.ok(answer.wrong === 2 || answer.wrong === 3, `${answer.wrong} wrong guesses`)
    assert.equal(await countUnfinishedUploads(suite.s3, `${prefix}/`), 0)
    assert.deepEqual(await staged(suite.s3), [])
  })

  it('an empty file before a large one: an empty object, no staged PUT filled with zeros', async () => {
    const prefix = uniqueKey('staged-empty')
    const files = [Buffer.alloc(0), randomBytes(6 * MiB)]
    const answer = await upload('/upload/files', form([{ field: 'prefix', value: prefix }, ...files.map((data, i) => ({ file: `f${i}.bin`, data }))]))
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    for (const [i, data] of files.entries()) assert.ok((await objectBody(suite.s3, `${prefix}/f${i}.bin`))?.equals(data), `file ${i}`)
    assert.deepEqual(await staged(suite.s3), [])
  })

  it('a sha256 that does not match, on a guess that was right: 400, the earlier object stays, nothing staged stays', async () => {
    const key = uniqueKey('kept.bin')
    await putObject(suite.s3, key, 'earlier')
    const answer = await upload('/upload/file', form([{ field: 's3_key', value: key }, { field: 'sha256', value: sha256('other') }, { file: 'a.bin', data: randomBytes(SIZE) }]))
    assert.equal(answer.status, 400)
    assert.equal(answer.json.code, 'CHECKSUM_MISMATCH')
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'earlier')
    assert.deepEqual(await staged(suite.s3), [])
  })

  it('a form cut short inside its staged file (a Content-Length that lies): 400, the earlier object stays', async () => {
    const key = uniqueKey('kept.bin')
    await putObject(suite.s3, key, 'earlier')
    const body = form([{ field: 's3_key', value: key }, { file: 'a.bin', data: randomBytes(SIZE) }])
    const cut = body.subarray(0, body.length - 1000)
    const res = await send(`${suite.gw.url}/upload/file`, { headers: headers(cut), chunks: [cut] })
    assert.equal(res.status, 400)
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'earlier')
    assert.deepEqual(await staged(suite.s3), [])
  })

  it('a client that hangs up inside a staged file: nothing stored, the earlier object stays, nothing staged stays', async () => {
    const key = uniqueKey('kept.bin')
    await putObject(suite.s3, key, 'earlier')
    const before = guesses()
    await hangUpInFile(suite, key, 8 * MiB, 6 * MiB)
    await eventually('the upload failed and its staged PUT is gone', async () => (await objectBody(suite.s3, key))?.toString() === 'earlier' && (await staged(suite.s3)).length === 0)
    assert.deepEqual(guesses(), before)
  })
})

describe('a staged form file part over MAX_UPLOAD_BYTES', () => {
  const suite = gatewaySuite({ UPLOAD_GUESS_MAX_MIB: '1', UPLOAD_GUESS_MIB: '2', MAX_UPLOAD_BYTES: String(9 * MiB) })
  const { upload } = guessing(suite)

  it('a file over MAX_UPLOAD_BYTES, staged: 413, the earlier object stays, nothing staged stays', async () => {
    const key = uniqueKey('kept.bin')
    await putObject(suite.s3, key, 'earlier')
    const answer = await upload('/upload/file', form([{ field: 's3_key', value: key }, { file: 'a.bin', data: randomBytes(9 * MiB + MiB / 2) }]))
    assert.equal(answer.status, 413, JSON.stringify(answer.json))
    assert.equal(answer.json.code, 'PAYLOAD_TOO_LARGE')
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'earlier')
    assert.deepEqual(await staged(suite.s3), [])
  })
})

describe('staging under KEY_PREFIX, and UPLOAD_STAGING=false', () => {
  const prefixed = gatewaySuite({ UPLOAD_GUESS_MAX_MIB: '1', UPLOAD_GUESS_MIB: '2', KEY_PREFIX: 'team-a' })
  const off = gatewaySuite({ UPLOAD_GUESS_MAX_MIB: '1', UPLOAD_GUESS_MIB: '2', UPLOAD_STAGING: 'false' })

  it('with KEY_PREFIX: the file in place under it, nothing left staged anywhere in the bucket', async () => {
    const { upload } = guessing(prefixed)
    const key = uniqueKey('prefixed.bin')
    const data = randomBytes(6 * MiB)
    const answer = await upload('/upload/file', form([{ field: 's3_key', value: key }, { file: 'a.bin', data }, { field: 'note', value: 'after' }]))
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    assert.deepEqual([answer.right, answer.wrong], [0, 1])
    assert.ok((await objectBody(prefixed.s3, `team-a/${key}`))?.equals(data))
    const listed = await prefixed.s3.client.send(new ListObjectsV2Command({ Bucket: prefixed.s3.bucket }))
    assert.deepEqual((listed.Contents ?? []).map((o) => o.Key).filter((k) => k?.includes('.gateway-staging/') === true), [])
  })

  it('with UPLOAD_STAGING=false, a file too large to keep goes in parts, not guessed, stored exactly', async () => {
    const { upload } = guessing(off)
    const key = uniqueKey('parts.bin')
    const data = randomBytes(6 * MiB)
    const answer = await upload('/upload/file', form([{ field: 's3_key', value: key }, { file: 'a.bin', data }]))
    assert.equal(answer.status, 201, JSON.stringify(answer.json))
    assert.deepEqual([answer.right, answer.wrong], [0, 0])
    assert.ok((await objectBody(off.s3, key))?.equals(data))
  })
})

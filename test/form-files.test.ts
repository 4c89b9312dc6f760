// Several files in one form (API.md Part 2): /upload/files stores every file
// part, each to its own key; /upload/file no longer drops later parts
// silently. Dify's array[file] variables send one part each, all named after
// the variable. Checked in the bucket.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { gatewaySuite, objectBody, objectHead, putObject, sha256, uniqueKey } from './helper.js'
import { postMultipart, type FormPart } from './http.js'

type Json = Record<string, any>
const json = (body: Buffer): Json => JSON.parse(body.toString()) as Json

describe('several files in one form', () => {
  const suite = gatewaySuite({ MAX_UPLOAD_BYTES: String(1024 * 1024) })
  const files = (name: string, count: number): Array<FormPart & { data: Buffer }> =>
    Array.from({ length: count }, (_, i) => ({ name, filename: `f${i}.bin`, type: 'application/x-test', data: randomBytes(1000 + i) }))

  it('/upload/files stores an array[file] of 3 as 3 objects under prefix, each with its own checksum', async () => {
    const prefix = uniqueKey('inbox')
    const parts = files('docs', 3)
    const res = await postMultipart(`${suite.gw.url}/upload/files`, [{ name: 'prefix', value: `${prefix}/` }, ...parts])
    assert.equal(res.status, 201, res.body.toString())
    const body = json(res.body)
    assert.deepEqual(body.failed, [])
    assert.deepEqual(body.files.map((f: Json) => f.key), parts.map((p) => `${prefix}/${p.filename ?? ''}`))
    for (const [i, part] of parts.entries()) {
      assert.equal(body.files[i].sha256, sha256(part.data))
      assert.ok((await objectBody(suite.s3, `${prefix}/${part.filename ?? ''}`))?.equals(part.data))
      assert.equal((await objectHead(suite.s3, `${prefix}/${part.filename ?? ''}`))?.contentType, 'application/x-test')
    }
  })

  it('/upload/files takes s3_keys in order; a file without a key, a bad key or an oversized file fails alone and leaves nothing', async () => {
    const a = uniqueKey('a.bin')
    const b = uniqueKey('b.bin')
    const big = { name: 'files', filename: 'big.bin', data: randomBytes(1024 * 1024 + 1) }
    const res = await postMultipart(`${suite.gw.url}/upload/files`, [
      { name: 's3_keys', value: JSON.stringify([a, 'x/../y', b, uniqueKey('big.bin')]) },
      { name: 'files', filename: 'one', data: Buffer.from('one') },
      { name: 'files', filename: 'two', data: Buffer.from('two') },
      { name: 'files', filename: 'three', data: Buffer.from('three') },
      big,
      { name: 'files', filename: 'five', data: Buffer.from('five') }
    ])
    assert.equal(res.status, 201, res.body.toString())
    const body = json(res.body)
    assert.deepEqual(body.files.map((f: Json) => f.key), [a, b])
    assert.deepEqual(body.failed.map((f: Json) => [f.filename, f.code]), [['two', 'INVALID_KEY'], ['big.bin', 'PAYLOAD_TOO_LARGE'], ['five', 'MISSING_KEY']])
    assert.equal((await objectBody(suite.s3, a))?.toString(), 'one')
    assert.equal((await objectBody(suite.s3, b))?.toString(), 'three')
  })

  it('/upload/files refuses a form with no file (400 MISSING_FILE) and a body that is no form (415)', async () => {
    const none = await postMultipart(`${suite.gw.url}/upload/files`, [{ name: 'prefix', value: 'x/' }, { name: '__multipart_placeholder__', filename: '', data: Buffer.alloc(0) }])
    assert.equal(none.status, 400)
    assert.equal(json(none.body).code, 'MISSING_FILE')
    const raw = await fetch(`${suite.gw.url}/upload/files`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'x' })
    assert.equal(raw.status, 415)
    assert.equal((await raw.json() as Json).code, 'UNSUPPORTED_MEDIA_TYPE')
  })

  it('/upload/file with several parts and a folder stores every part; the answer is the first file\'s plus files and failed', async () => {
    const folder = uniqueKey('batch')
    const parts = files('file', 3)
    const res = await postMultipart(`${suite.gw.url}/upload/file`, [{ name: 's3_key', value: `${folder}/` }, ...parts])
    assert.equal(res.status, 201, res.body.toString())
    const body = json(res.body)
    assert.equal(body.key, `${folder}/f0.bin`, 'the first file\'s answer')
    assert.equal(body.files.length, 3)
    assert.deepEqual(body.failed, [])
    for (const part of parts) assert.ok((await objectBody(suite.s3, `${folder}/${part.filename ?? ''}`))?.equals(part.data))
  })

  it('/upload/file with several parts and one fixed key stores the first and lists the rest as AMBIGUOUS_KEY, replacing nothing else', async () => {
    const key = uniqueKey('one-name.bin')
    await putObject(suite.s3, key, 'old')
    const parts = files('file', 3)
    const res = await postMultipart(`${suite.gw.url}/upload/file`, [{ name: 's3_key', value: key }, ...parts])
    assert.equal(res.status, 201)
    const body = json(res.body)
    assert.equal(body.key, key)
    assert.equal(body.files.length, 1)
    assert.deepEqual(body.failed.map((f: Json) => [f.filename, f.code]), [['f1.bin', 'AMBIGUOUS_KEY'], ['f2.bin', 'AMBIGUOUS_KEY']])
    assert.ok((await objectBody(suite.s3, key))?.equals(parts[0]?.data ?? Buffer.alloc(0)))
  })

  it('/upload/file with one part answers exactly as before (no files, no failed)', async () => {
    const key = uniqueKey('single.txt')
    const res = await postMultipart(`${suite.gw.url}/upload/file`, [{ name: 's3_key', value: key }, { name: 'file', filename: 'x.txt', data: Buffer.from('single') }])
    assert.equal(res.status, 201)
    const body = json(res.body)
    assert.equal(body.files, undefined)
    assert.equal(body.failed, undefined)
    assert.equal(body.key, key)
  })
})

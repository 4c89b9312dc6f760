// Files past Dify's limits (API.md Part 2 "Large files"): presigned POST with
// content-length-range, presigned PUT with the size signed, and presigned
// multipart as Uppy's @uppy/aws-s3 drives it through Companion's protocol —
// the bytes go from the client straight to S3, checked in the bucket.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { countUnfinishedUploads, noUnfinishedUploads, objectBody, objectHead, sha256, startGateway, startTestS3, uniqueKey, unlessS3rver, type Gateway, type TestS3 } from './helper.js'

const KEY = 'direct-uploads-key-0123456789'
const READER = 'direct-reader-key-0123456789'
const NOPRESIGN = 'direct-nopresign-key-0123456'
const MiB = 1024 * 1024
type Json = Record<string, any>

describe('direct uploads: presigned POST, sized PUT, presigned multipart', () => {
  let s3: TestS3
  let gw: Gateway
  let gw2: Gateway
  let small: Gateway

  before(async () => {
    s3 = await startTestS3()
    const file = join(mkdtempSync(join(tmpdir(), 'gw-direct-')), 'keys.yaml')
    writeFileSync(file, `keys:\n  - name: uploader\n    key: ${KEY}\n    permissions: [read, write, presign, list]\n` +
      `  - name: reader\n    key: ${READER}\n    permissions: [read, presign]\n  - name: nopresign\n    key: ${NOPRESIGN}\n    permissions: [read, write]\n`)
    gw = await startGateway(s3, { API_KEYS_FILE: file })
    // a second replica: nothing is kept between calls, so it signs the next part as well
    gw2 = await startGateway(s3, { API_KEYS_FILE: file })
    small = await startGateway(s3, { API_KEYS_FILE: file, MAX_UPLOAD_BYTES: String(6 * MiB) })
  })
  after(async () => {
    for (const g of [gw, gw2, small]) await g?.close()
    await s3?.close()
  })

  const call = async (g: Gateway, method: string, path: string, body?: unknown, key = KEY): Promise<{ status: number, body: Json }> => {
    const res = await fetch(`${g.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) as Json }
  }

  const postForm = async (url: string, fields: Record<string, string>, data: Buffer, type = 'application/octet-stream'): Promise<Response> => {
    const form = new FormData()
    for (const [name, value] of Object.entries(fields)) form.append(name, value)
    form.append('file', new Blob([data], { type }), 'upload.bin')
    return await fetch(url, { method: 'POST', body: form })
  }

  it('presigned POST: the form stores the object at the fixed key', async () => {
    const key = uniqueKey('post/report.pdf')
    const { status, body } = await call(gw, 'POST', '/presign', { s3_key: key, method: 'POST', content_type: 'application/pdf', max_bytes: 2048 })
    assert.equal(status, 200, JSON.stringify(body))
    assert.equal(body.method, 'POST')
    assert.equal(body.max_bytes, 2048)
    assert.equal(body.fields.key, key)
    assert.equal(body.fields['Content-Type'], 'application/pdf')
    const data = randomBytes(1500)
    const res = await postForm(String(body.url), body.fields, data, 'application/pdf')
    assert.ok(res.status === 204 || res.status === 200 || res.status === 201, `${res.status} ${await res.text()}`)
    assert.ok((await objectBody(s3, key))?.equals(data))
    assert.equal((await objectHead(s3, key))?.contentType, 'application/pdf')
  })

  it('presigned POST: S3 refuses more than max_bytes and another key, and stores nothing', { skip: unlessS3rver('enforce POST policies') }, async () => {
    const key = uniqueKey('post/limited.bin')
    const { body } = await call(gw, 'POST', '/presign', { s3_key: key, method: 'POST', max_bytes: 1000 })
    const big = await postForm(String(body.url), body.fields, randomBytes(1001))
    assert.ok(big.status >= 400 && big.status < 500, `over max_bytes: ${big.status}`)
    await big.arrayBuffer()
    assert.equal(await objectBody(s3, key), undefined)
    const other = uniqueKey('post/other.bin')
    const moved = await postForm(String(body.url), { ...body.fields, key: other }, randomBytes(10))
    assert.equal(moved.status, 403, 'the key is part of the policy')
    await moved.arrayBuffer()
    assert.equal(await objectBody(s3, other), undefined)
    const fits = await postForm(String(body.url), body.fields, randomBytes(1000))
    assert.ok(fits.status < 300, String(fits.status))
    assert.equal((await objectHead(s3, key))?.size, 1000)
  })

  it('presigned PUT with size: the Content-Length is signed and told; a size over the limit is 413', async () => {
    const key = uniqueKey('put/sized.bin')
    const { status, body } = await call(gw, 'POST', '/presign', { s3_key: key, method: 'PUT', size: 4096 })
    assert.equal(status, 200)
    assert.deepEqual(body.headers, { 'Content-Length': '4096' })
    assert.match(new URL(String(body.url)).searchParams.get('X-Amz-SignedHeaders') ?? '', /content-length/)
    const res = await fetch(String(body.url), { method: 'PUT', body: randomBytes(4096) })
    assert.equal(res.status, 200, await res.text())
    assert.equal((await objectHead(s3, key))?.size, 4096)
    const over = await call(small, 'POST', '/presign', { s3_key: key, method: 'PUT', size: 7 * MiB })
    assert.equal(over.status, 413)
    assert.equal(over.body.code, 'PAYLOAD_TOO_LARGE')
  })

  it('presigned PUT with size: S3 refuses another length', { skip: unlessS3rver('check signatures') }, async () => {
    const key = uniqueKey('put/wrong-length.bin')
    const { body } = await call(gw, 'POST', '/presign', { s3_key: key, method: 'PUT', size: 4096 })
    const res = await fetch(String(body.url), { method: 'PUT', body: randomBytes(4000) })
    assert.equal(res.status, 403)
    await res.arrayBuffer()
    assert.equal(await objectBody(s3, key), undefined)
  })

  it('multipart as Uppy drives it, half the parts signed by a second replica: the object is byte for byte what was sent', async () => {
    const data = randomBytes(12 * MiB + 123)
    const created = await call(gw, 'POST', '/s3/multipart', { filename: 'ignored.bin', type: 'application/x-test', metadata: { s3_key: uniqueKey('uppy/big.bin'), name: 'big.bin' } })
    assert.equal(created.status, 200, JSON.stringify(created.body))
    const { key, uploadId } = created.body as { key: string, uploadId: string }
    const q = `?key=${encodeURIComponent(key)}`
    const chunks = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)]
    const etags: string[] = []
    for (const [i, chunk] of chunks.entries()) {
      const replica = i % 2 === 0 ? gw : gw2
      const signed = i === 2
        ? (await call(replica, 'GET', `/s3/multipart/${encodeURIComponent(uploadId)}/batch${q}&partNumbers=3`)).body.presignedUrls['3']
        : (await call(replica, 'GET', `/s3/multipart/${encodeURIComponent(uploadId)}/${i + 1}${q}`)).body.url
      const put = await fetch(String(signed), { method: 'PUT', body: chunk })
      assert.equal(put.status, 200, await put.text())
      etags.push(put.headers.get('etag') ?? '')
    }
    const listed = await call(gw2, 'GET', `/s3/multipart/${encodeURIComponent(uploadId)}${q}`)
    assert.deepEqual(listed.body.map((p: Json) => p.PartNumber), [1, 2, 3])
    const done = await call(gw2, 'POST', `/s3/multipart/${encodeURIComponent(uploadId)}/complete${q}`, { parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) })
    assert.equal(done.status, 200, JSON.stringify(done.body))
    assert.equal(done.body.key, key)
    assert.equal(done.body.bucket, s3.bucket)
    assert.ok(String(done.body.location).endsWith(key.split('/').map(encodeURIComponent).join('/')))
    const stored = await objectBody(s3, key)
    assert.equal(sha256(stored ?? Buffer.alloc(0)), sha256(data))
    assert.equal((await objectHead(s3, key))?.contentType, 'application/x-test')
    await noUnfinishedUploads(s3, key)
  })

  it('abort leaves no unfinished upload; a total over the upload limit is aborted at complete with 413 and stores nothing', async () => {
    const created = await call(gw, 'POST', '/s3/multipart', { filename: uniqueKey('uppy/aborted.bin'), type: 'application/octet-stream' })
    const { key, uploadId } = created.body as { key: string, uploadId: string }
    const q = `?key=${encodeURIComponent(key)}`
    const signed = (await call(gw, 'GET', `/s3/multipart/${encodeURIComponent(uploadId)}/1${q}`)).body.url
    await (await fetch(String(signed), { method: 'PUT', body: randomBytes(MiB) })).arrayBuffer()
    assert.equal(await countUnfinishedUploads(s3, key), 1)
    const aborted = await call(gw2, 'DELETE', `/s3/multipart/${encodeURIComponent(uploadId)}${q}`)
    assert.equal(aborted.status, 200)
    await noUnfinishedUploads(s3, key)
    const gone = await call(gw, 'GET', `/s3/multipart/${encodeURIComponent(uploadId)}${q}`)
    assert.equal(gone.status, 404)
    assert.equal(gone.body.code, 'NOT_FOUND')

    const over = await call(small, 'POST', '/s3/multipart', { filename: uniqueKey('uppy/over.bin') })
    const o = over.body as { key: string, uploadId: string }
    const oq = `?key=${encodeURIComponent(o.key)}`
    const parts: Array<{ PartNumber: number, ETag: string }> = []
    for (const [i, size] of [5 * MiB, 2 * MiB].entries()) {
      const url = (await call(small, 'GET', `/s3/multipart/${encodeURIComponent(o.uploadId)}/${i + 1}${oq}`)).body.url
      const put = await fetch(String(url), { method: 'PUT', body: randomBytes(size) })
      parts.push({ PartNumber: i + 1, ETag: put.headers.get('etag') ?? '' })
    }
    // 6 MiB in parts of at least 5 MiB: no third part is signed
    const third = await call(small, 'GET', `/s3/multipart/${encodeURIComponent(o.uploadId)}/3${oq}`)
    assert.equal(third.status, 400)
    assert.equal(third.body.code, 'INVALID_PARAMETER')
    const refused = await call(small, 'POST', `/s3/multipart/${encodeURIComponent(o.uploadId)}/complete${oq}`, { parts })
    assert.equal(refused.status, 413)
    assert.equal(refused.body.code, 'PAYLOAD_TOO_LARGE')
    assert.equal(await objectBody(s3, o.key), undefined)
    await noUnfinishedUploads(s3, o.key)
  })

  it('/s3/params answers a POST form that stores a single file', async () => {
    const key = uniqueKey('uppy/single.txt')
    const params = await call(gw, 'GET', `/s3/params?filename=x.txt&type=text%2Fplain&metadata%5Bs3_key%5D=${encodeURIComponent(key)}`)
    assert.equal(params.status, 200, JSON.stringify(params.body))
    assert.equal(params.body.method, 'POST')
    const res = await postForm(String(params.body.url), params.body.fields, Buffer.from('single'), 'text/plain')
    assert.ok(res.status < 300, String(res.status))
    assert.equal((await objectBody(s3, key))?.toString(), 'single')
  })

  it('checks auth, write and presign on every call, and the key rules', async () => {
    const created = await call(gw, 'POST', '/s3/multipart', { filename: uniqueKey('uppy/auth.bin') })
    const { key, uploadId } = created.body as { key: string, uploadId: string }
    const q = `?key=${encodeURIComponent(key)}`
    const paths: Array<[string, string, unknown?]> = [['GET', '/s3/params?filename=a.txt'], ['POST', '/s3/multipart', { filename: 'a.bin' }], ['GET', `/s3/multipart/${uploadId}/1${q}`],
      ['GET', `/s3/multipart/${uploadId}/batch${q}&partNumbers=1`], ['GET', `/s3/multipart/${uploadId}${q}`], ['POST', `/s3/multipart/${uploadId}/complete${q}`, { parts: [{ PartNumber: 1, ETag: '"x"' }] }], ['DELETE', `/s3/multipart/${uploadId}${q}`]]
    for (const [method, path, body] of paths) {
      const res = await fetch(`${gw.url}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) })
      assert.equal(res.status, 401, `${method} ${path} without a key`)
      await res.arrayBuffer()
      assert.equal((await call(gw, method, path, body, READER)).body.code, 'FORBIDDEN', `${method} ${path}: no write`)
      assert.equal((await call(gw, method, path, body, NOPRESIGN)).body.code, 'FORBIDDEN', `${method} ${path}: no presign`)
    }
    assert.equal((await call(gw, 'POST', '/s3/multipart', { filename: 'a/../b' })).body.code, 'INVALID_KEY')
    assert.equal((await call(gw, 'GET', `/s3/multipart/${uploadId}/0${q}`)).body.code, 'INVALID_PARAMETER')
    assert.equal((await call(gw, 'GET', `/s3/multipart/${uploadId}/1`)).body.code, 'MISSING_KEY')
    assert.equal((await call(gw, 'DELETE', `/s3/multipart/${uploadId}${q}`)).status, 200)
  })
})

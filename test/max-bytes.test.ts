// max_bytes on the downloads (API.md Part 2): above it the object is not sent;
// the answer is 200 JSON with too_large and a presigned URL that works.
// Content types sniffed from the first bytes when nothing else names one.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { fetchJson, gatewaySuite, objectHead, postJson, putObject, uniqueKey } from './helper.js'
import { postMultipart, send } from './http.js'

// a real 1×1 PNG and the start of a PDF, each followed by the same filler every run
// (random bytes after a PNG header can read as a broken chunk, which file-type rightly refuses)
const FILLER = Buffer.alloc(5000, 'x')
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64')
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), FILLER])

describe('max_bytes on downloads', () => {
  const suite = gatewaySuite()

  it('/download/file: above max_bytes, a too_large JSON answer whose presigned URL downloads the object', async () => {
    const key = uniqueKey('big/report.bin')
    const data = randomBytes(4096)
    await putObject(suite.s3, key, data, 'application/x-test')
    const { status, headers, body } = await fetchJson(`${suite.gw.url}/download/file?s3_key=${encodeURIComponent(key)}&max_bytes=4095&presigned_expiration=120`)
    assert.equal(status, 200)
    assert.match(headers.get('content-type') ?? '', /^application\/json/)
    assert.equal(headers.get('content-disposition'), null, 'not a file answer')
    assert.equal(body.too_large, true)
    assert.equal(body.size, 4096)
    assert.equal(body.max_bytes, 4095)
    assert.equal(body.key, key)
    assert.equal(body.content_type, 'application/x-test')
    assert.equal(body.presigned_expires_in, 120)
    const fetched = await fetch(String(body.presigned_url))
    assert.equal(fetched.status, 200)
    assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(data))
  })

  it('/download/file: at or under max_bytes the bytes come as before, and a Range under it too', async () => {
    const key = uniqueKey('small.bin')
    const data = randomBytes(2000)
    await putObject(suite.s3, key, data)
    const whole = await fetch(`${suite.gw.url}/download/file?s3_key=${encodeURIComponent(key)}&max_bytes=2000`)
    assert.equal(whole.status, 200)
    assert.match(whole.headers.get('content-disposition') ?? '', /^attachment/)
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data))
    const part = await fetch(`${suite.gw.url}/download/file?s3_key=${encodeURIComponent(key)}&max_bytes=100`, { headers: { range: 'bytes=0-99' } })
    assert.equal(part.status, 206)
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(0, 100)))
    const post = await postJson(`${suite.gw.url}/download/file`, { s3_key: key, max_bytes: 10 })
    assert.equal(post.body.too_large, true)
  })

  it('/download/base64: above max_bytes (decoded), too_large with a working URL; under it, the base64', async () => {
    const key = uniqueKey('b64.bin')
    const data = randomBytes(3000)
    await putObject(suite.s3, key, data)
    const big = await fetchJson(`${suite.gw.url}/download/base64?s3_key=${encodeURIComponent(key)}&max_bytes=2999`)
    assert.equal(big.status, 200)
    assert.equal(big.body.too_large, true)
    assert.equal(big.body.content_base64, undefined)
    assert.ok(Buffer.from(await (await fetch(String(big.body.presigned_url))).arrayBuffer()).equals(data))
    const fits = await postJson(`${suite.gw.url}/download/base64`, { s3_key: key, max_bytes: '3000' })
    assert.equal(fits.body.content_base64, data.toString('base64'))
    assert.equal(fits.body.too_large, undefined)
  })

  it('refuses a negative or non-numeric max_bytes with 400 INVALID_PARAMETER', async () => {
    for (const value of ['-1', 'ten', '1.5']) {
      for (const path of ['/download/file', '/download/base64']) {
        const { status, body } = await fetchJson(`${suite.gw.url}${path}?s3_key=x&max_bytes=${value}`)
        assert.equal(status, 400, `${path} ${value}`)
        assert.equal(body.code, 'INVALID_PARAMETER')
      }
    }
  })
})

describe('content type from the first bytes', () => {
  const suite = gatewaySuite()

  it('sniffs a raw upload with no type and no extension; an explicit or sent type still wins', async () => {
    const key = uniqueKey('image-without-extension')
    const { status, body } = await fetchJson(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: PNG })
    assert.equal(status, 201, JSON.stringify(body))
    assert.equal(body.content_type, 'image/png')
    assert.equal((await objectHead(suite.s3, key))?.contentType, 'image/png')
    const named = uniqueKey('typed')
    await fetchJson(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(named)}&content_type=application/x-mine`, { method: 'POST', body: PNG })
    assert.equal((await objectHead(suite.s3, named))?.contentType, 'application/x-mine')
    const byExtension = uniqueKey('really.txt')
    await fetchJson(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(byExtension)}`, { method: 'POST', body: PNG })
    assert.match((await objectHead(suite.s3, byExtension))?.contentType ?? '', /^text\/plain/)
  })

  it('sniffs chunked raw uploads, multipart parts sent as octet-stream and base64; text and tiny bodies stay octet-stream', async () => {
    const chunked = uniqueKey('chunked-pdf')
    const answer = await send(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(chunked)}`, { headers: { 'transfer-encoding': 'chunked' }, chunks: [PDF.subarray(0, 3), PDF.subarray(3)] })
    assert.equal(answer.status, 201, answer.body.toString())
    assert.equal((await objectHead(suite.s3, chunked))?.contentType, 'application/pdf')
    assert.equal((await objectHead(suite.s3, chunked))?.size, PDF.length)
    const part = uniqueKey('part-png')
    const form = await postMultipart(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(part)}`, [{ name: 'file', filename: 'blob', type: 'application/octet-stream', data: PNG }])
    assert.equal(form.status, 201, form.body.toString())
    assert.equal(JSON.parse(form.body.toString()).content_type, 'image/png')
    const b64 = await postJson(`${suite.gw.url}/upload/base64`, { s3_key: uniqueKey('b64-pdf'), file_base64: PDF.toString('base64') })
    assert.equal(b64.body.content_type, 'application/pdf')
    for (const data of [Buffer.from('just some words, no magic'), Buffer.from('ab')]) {
      const plain = await fetchJson(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(uniqueKey('plain'))}`, { method: 'POST', body: data })
      assert.equal(plain.body.content_type, 'application/octet-stream')
      assert.equal(plain.body.size, data.length)
    }
  })
})

// Hostile input across every route: each request gets a 4xx JSON error with a
// stable code, the process keeps serving, and nothing is written to the bucket.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { ERROR_STATUS } from '../src/errors.js'
import { objectBody, putObject, startGateway, startTestS3, type Gateway, type TestS3 } from './helper.js'
import { postMultipart, send, type RawResponse } from './http.js'

const MAX_UPLOAD = 1024 * 1024
const BASE64_MAX = 4096
const FIXTURE = 'fixture/existing.txt'

interface Case {
  what: string
  /** the request, as the test's own HTTP client sends it */
  request: (url: string) => Promise<RawResponse>
  /** the expected code (or any of several) */
  code: string | string[]
  status?: number
}

const json = (method: string, path: string, body: string, headers: Record<string, string> = {}) => async (url: string): Promise<RawResponse> =>
  await send(url + path, { method, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers }, chunks: [body] })
const raw = (method: string, path: string, body?: string | Buffer, headers: Record<string, string | number> = {}) => async (url: string): Promise<RawResponse> =>
  await send(url + path, { method, headers: body !== undefined ? { 'content-length': Buffer.byteLength(body), ...headers } : headers, ...(body !== undefined ? { chunks: [body] } : {}) })
const get = (path: string, headers: Record<string, string> = {}) => raw('GET', path, undefined, headers)
const form = (path: string, parts: Parameters<typeof postMultipart>[1]) => async (url: string): Promise<RawResponse> => await postMultipart(url + path, parts)

/** bytes written on a fresh connection, whatever they are; the answer read until the server closes or answers */
function wire (bytes: string | Buffer) {
  return async (url: string): Promise<RawResponse> => await new Promise((resolve, reject) => {
    const { port } = new URL(url)
    const socket = net.connect(Number(port), '127.0.0.1')
    let data = Buffer.alloc(0)
    const done = (): void => {
      const text = data.toString('latin1')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      const body = data.subarray(text.indexOf('\r\n\r\n') + 4)
      socket.destroy()
      resolve({ status, headers: {}, body })
    }
    socket.on('data', (c: Buffer) => {
      data = Buffer.concat([data, c])
      const text = data.toString('latin1')
      const length = /content-length: (\d+)/i.exec(text)?.[1]
      const head = text.indexOf('\r\n\r\n')
      if (head !== -1 && length !== undefined && data.length >= head + 4 + Number(length)) done()
    })
    socket.on('end', done)
    socket.on('error', (err) => { if (data.length > 0) done(); else reject(err) })
    socket.write(bytes)
  })
}

const key = (k: string): string => `?s3_key=${encodeURIComponent(k)}`
const upload = (query: string, body = 'x', type = 'text/plain') => raw('POST', `/upload/file${query}`, body, { 'content-type': type })

const CASES: Case[] = [
  // /upload/file: keys
  { what: 'a raw upload without a key', request: upload(''), code: 'MISSING_KEY' },
  { what: 'blank s3_key and filename', request: upload('?s3_key=&filename='), code: 'MISSING_KEY' },
  { what: 'a key that climbs: ../etc/passwd', request: upload(key('../etc/passwd')), code: 'INVALID_KEY' },
  { what: 'a key with a dot segment', request: upload(key('a/./b')), code: 'INVALID_KEY' },
  { what: 'a key with a dot-dot segment inside', request: upload(key('a/../b')), code: 'INVALID_KEY' },
  { what: 'the key ..', request: upload(key('..')), code: 'INVALID_KEY' },
  { what: 'a key with a NUL byte', request: upload(key('a\u0000b')), code: 'INVALID_KEY' },
  { what: 'a key with a newline', request: upload(key('a\nb')), code: 'INVALID_KEY' },
  { what: 'a key with DEL', request: upload(key('a\u007fb')), code: 'INVALID_KEY' },
  { what: 'a key of 1025 bytes', request: upload(key('k'.repeat(1025))), code: 'INVALID_KEY' },
  { what: 'a key of 342 three-byte characters (1026 bytes)', request: upload(key('€'.repeat(342))), code: 'INVALID_KEY' },
  { what: 'the key /', request: upload(key('/')), code: ['INVALID_KEY', 'MISSING_KEY'] },
  { what: 'a key given twice', request: upload('?s3_key=a&s3_key=b'), code: 'INVALID_PARAMETER' },
  // /upload/file: parameters
  { what: 'sha256 that is not hex', request: upload(key('a.txt') + '&sha256=xyz'), code: 'INVALID_PARAMETER' },
  { what: 'sha256 of 63 characters', request: upload(key('a.txt') + '&sha256=' + 'a'.repeat(63)), code: 'INVALID_PARAMETER' },
  { what: 'a content_type that is no media type', request: upload(key('a.txt') + '&content_type=not%20a%20type'), code: 'INVALID_PARAMETER' },
  { what: 'a content_type with CR LF', request: upload(key('a.txt') + '&content_type=text/plain%0D%0AX-Evil:%201'), code: 'INVALID_PARAMETER' },
  { what: 'generate_presigned_url=maybe', request: upload(key('a.txt') + '&generate_presigned_url=maybe'), code: 'INVALID_PARAMETER' },
  { what: 'presigned_expiration=0', request: upload(key('a.txt') + '&generate_presigned_url=true&presigned_expiration=0'), code: 'INVALID_PARAMETER' },
  { what: 'presigned_expiration negative', request: upload(key('a.txt') + '&generate_presigned_url=1&presigned_expiration=-5'), code: 'INVALID_PARAMETER' },
  { what: 'presigned_expiration over the maximum', request: upload(key('a.txt') + '&generate_presigned_url=yes&presigned_expiration=999999999'), code: 'INVALID_PARAMETER' },
  { what: 'presigned_expiration 1.5', request: upload(key('a.txt') + '&generate_presigned_url=true&presigned_expiration=1.5'), code: 'INVALID_PARAMETER' },
  { what: 'presigned_expiration in words', request: upload(key('a.txt') + '&generate_presigned_url=true&presigned_expiration=ten'), code: 'INVALID_PARAMETER' },
  { what: 'presign_expiry beyond a safe integer', request: upload(key('a.txt') + '&generate_presign_url=true&presign_expiry=99999999999999999999'), code: 'INVALID_PARAMETER' },
  // /upload/file: bodies
  { what: 'no body at all', request: raw('POST', `/upload/file${key('a.txt')}`), code: 'MISSING_FILE' },
  { what: 'a Content-Length over MAX_UPLOAD_BYTES', request: raw('POST', `/upload/file${key('a.bin')}`, 'x', { 'content-length': MAX_UPLOAD + 1 }), code: 'PAYLOAD_TOO_LARGE' },
  { what: 'a chunked body over MAX_UPLOAD_BYTES', request: async (url) => await send(`${url}/upload/file${key('big.bin')}`, { headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' }, chunks: Array.from({ length: 5 }, () => Buffer.alloc(300_000)) }), code: 'PAYLOAD_TOO_LARGE' },
  { what: 'Expect: 100-continue with an oversized Content-Length', request: raw('POST', `/upload/file${key('a.bin')}`, undefined, { 'content-length': MAX_UPLOAD * 4, expect: '100-continue' }), code: 'PAYLOAD_TOO_LARGE' },
  { what: 'a malformed Content-Type', request: upload(key('a.txt'), 'x', 'text/'), code: 'UNSUPPORTED_MEDIA_TYPE' },
  { what: 'multipart without a boundary', request: upload(key('a.txt'), 'junk', 'multipart/form-data'), code: ['MISSING_FILE', 'INVALID_PARAMETER', 'UNSUPPORTED_MEDIA_TYPE'] },
  { what: 'multipart that never closes', request: upload('', '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhalf', 'multipart/form-data; boundary=b'), code: ['MISSING_FILE', 'INVALID_PARAMETER'] },
  { what: 'multipart whose boundary never appears', request: upload('', 'no boundary here at all', 'multipart/form-data; boundary=zzz'), code: ['MISSING_FILE', 'INVALID_PARAMETER'] },
  { what: 'multipart with 200 parts', request: form('/upload/file', Array.from({ length: 200 }, (_v, i) => ({ name: `f${i}`, value: 'v' }))), code: ['PAYLOAD_TOO_LARGE', 'INVALID_PARAMETER'] },
  { what: 'a multipart field over 64 KiB', request: form('/upload/file', [{ name: 's3_key', value: 'k'.repeat(70_000) }, { name: 'file', filename: 'a.txt', data: Buffer.from('x') }]), code: 'PAYLOAD_TOO_LARGE' },
  { what: 'multipart whose "file" is a text field', request: form('/upload/file', [{ name: 's3_key', value: 'a.txt' }, { name: 'file', value: 'text' }]), code: 'MISSING_FILE' },
  { what: 'multipart with only the Dify placeholder', request: form('/upload/file', [{ name: 's3_key', value: 'a.txt' }, { name: '__multipart_placeholder__', filename: '', data: Buffer.alloc(0) }]), code: 'MISSING_FILE' },
  { what: 'multipart with a NUL in the file part\'s name used as key', request: form('/upload/file', [{ name: 'file', filename: 'a\u0000.txt', data: Buffer.from('x') }]), code: ['INVALID_KEY', 'MISSING_FILE', 'INVALID_PARAMETER'] },
  { what: 'multipart with a key of dot segments in a field', request: form('/upload/file', [{ name: 's3_key', value: 'x/../../y' }, { name: 'file', filename: 'a.txt', data: Buffer.from('x') }]), code: 'INVALID_KEY' },
  // /upload/file and /upload/url: JSON
  { what: 'JSON that is an array', request: json('POST', '/upload/file', '[]'), code: 'MISSING_FILE' },
  { what: 'JSON that does not parse', request: json('POST', '/upload/file', '{"file_url": '), code: 'INVALID_PARAMETER' },
  { what: 'JSON over 1 MiB', request: json('POST', '/upload/url', JSON.stringify({ file_url: 'x'.repeat(1024 * 1024 + 10) })), code: 'PAYLOAD_TOO_LARGE' },
  { what: 'JSON nested 5000 deep', request: json('POST', '/upload/url', '{"file":' + '['.repeat(5000) + ']'.repeat(5000) + '}'), code: 'INVALID_PARAMETER' },
  { what: 'file_url with ftp:', request: json('POST', '/upload/file', JSON.stringify({ file_url: 'ftp://example.com/a', s3_key: 'a' })), code: 'URL_NOT_ALLOWED' },
  { what: 'file_url to the cloud metadata address', request: json('POST', '/upload/url', JSON.stringify({ file_url: 'http://169.254.169.254/latest/meta-data/', s3_key: 'a' })), code: 'URL_NOT_ALLOWED' },
  { what: 'file_url as a number', request: json('POST', '/upload/url', JSON.stringify({ file_url: 42, s3_key: 'a' })), code: 'INVALID_PARAMETER' },
  { what: 'a file object without url', request: json('POST', '/upload/url', JSON.stringify({ file: { filename: 'a' } })), code: 'INVALID_PARAMETER' },
  { what: 'text/plain on /upload/url', request: raw('POST', '/upload/url', 'file_url=x', { 'content-type': 'text/plain' }), code: 'UNSUPPORTED_MEDIA_TYPE' },
  // /upload/base64
  { what: 'no file_base64', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a.txt' })), code: 'MISSING_FILE' },
  { what: 'base64 with bad padding', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a.txt', file_base64: 'abc' })), code: 'INVALID_BASE64' },
  { what: 'base64 of punctuation', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a.txt', file_base64: '!!!!' })), code: 'INVALID_BASE64' },
  { what: 'URL-safe base64', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a.txt', file_base64: 'ab-_' })), code: 'INVALID_BASE64' },
  { what: 'a data: prefix without its comma', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a.txt', file_base64: 'data:image/png;base64' })), code: 'INVALID_BASE64' },
  { what: 'file_base64 as a number', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a.txt', file_base64: 123 })), code: 'INVALID_PARAMETER' },
  { what: 'decoded base64 over BASE64_MAX_BYTES', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a.txt', file_base64: Buffer.alloc(BASE64_MAX * 2).toString('base64') })), code: 'PAYLOAD_TOO_LARGE' },
  // Dify's form bodies are taken (API.md Part 2) and held to the same validation
  { what: 'form-urlencoded on /upload/base64 with broken base64', request: raw('POST', '/upload/base64', 's3_key=a.txt&file_base64=YQ%3D%3D%3D', { 'content-type': 'application/x-www-form-urlencoded' }), code: 'INVALID_BASE64' },
  { what: 's3_key as an object', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: {}, file_base64: 'YQ==' })), code: 'INVALID_PARAMETER' },
  { what: 's3_key as an array', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: ['a'], file_base64: 'YQ==' })), code: 'INVALID_PARAMETER' },
  { what: 'a JSON key with a NUL', request: json('POST', '/upload/base64', JSON.stringify({ s3_key: 'a\u0000b', file_base64: 'YQ==' })), code: 'INVALID_KEY' },
  { what: 'a JSON key with a lone surrogate', request: json('POST', '/upload/base64', '{"s3_key":"a\\ud800b","file_base64":"YQ=="}'), code: 'INVALID_KEY' },
  // downloads
  { what: 'a download without a key', request: get('/download/file'), code: 'MISSING_KEY' },
  { what: 'a download of ..', request: get('/download/file' + key('..')), code: 'INVALID_KEY' },
  { what: 'a range past the end', request: get('/download/file' + key(FIXTURE), { range: 'bytes=999999-' }), code: 'RANGE_NOT_SATISFIABLE', status: 416 },
  { what: 'a failed If-Match', request: get('/download/file' + key(FIXTURE), { 'if-match': '"nope"' }), code: 'PRECONDITION_FAILED', status: 412 },
  { what: 'a missing object', request: get('/download/file' + key('no/such/object')), code: 'NOT_FOUND', status: 404 },
  { what: 'text/plain on POST /download/file', request: raw('POST', '/download/file', 's3_key=a', { 'content-type': 'text/plain' }), code: 'UNSUPPORTED_MEDIA_TYPE' },
  { what: 'a numeric s3_key on POST /download/file', request: json('POST', '/download/file', JSON.stringify({ s3_key: 5 })), code: 'INVALID_PARAMETER' },
  { what: 'DELETE /download/file', request: raw('DELETE', '/download/file' + key(FIXTURE)), code: 'METHOD_NOT_ALLOWED', status: 405 },
  { what: 'a base64 download without a key', request: get('/download/base64'), code: 'MISSING_KEY' },
  { what: 'a base64 download of a missing object', request: get('/download/base64' + key('no/such/object')), code: 'NOT_FOUND', status: 404 },
  { what: 'a base64 download with a bad expiry', request: get('/download/base64' + key(FIXTURE) + '&generate_presigned_url=true&presigned_expiration=0'), code: 'INVALID_PARAMETER' },
  // presign
  { what: 'presign with method DELETE', request: json('POST', '/presign', JSON.stringify({ s3_key: 'a', method: 'DELETE' })), code: 'INVALID_PARAMETER' },
  { what: 'presign with expires_in 0', request: json('POST', '/presign', JSON.stringify({ s3_key: 'a', expires_in: 0 })), code: 'INVALID_PARAMETER' },
  { what: 'presign with expires_in "7d"', request: json('POST', '/presign', JSON.stringify({ s3_key: 'a', expires_in: '7d' })), code: 'INVALID_PARAMETER' },
  { what: 'presign PUT with a bad content_type', request: json('POST', '/presign', JSON.stringify({ s3_key: 'a', method: 'PUT', content_type: 'x' })), code: 'INVALID_PARAMETER' },
  { what: 'presign without a key', request: json('POST', '/presign', '{}'), code: 'MISSING_KEY' },
  { what: 'presign with a form body and a bad method', request: raw('POST', '/presign', 's3_key=a&method=DELETE', { 'content-type': 'application/x-www-form-urlencoded' }), code: 'INVALID_PARAMETER' },
  { what: 'presign with a form body of 2 MiB', request: raw('POST', '/presign', `s3_key=a&x=${'y'.repeat(2 * 1024 * 1024)}`, { 'content-type': 'application/x-www-form-urlencoded' }), code: 'PAYLOAD_TOO_LARGE', status: 413 },
  // HTTP itself
  { what: 'an unknown route', request: get('/admin'), code: 'ROUTE_NOT_FOUND', status: 404 },
  { what: 'a NUL in the path', request: get('/upload/%00'), code: 'ROUTE_NOT_FOUND', status: 404 },
  { what: 'a header over 16 KiB', request: get('/healthz', { 'x-filler': 'f'.repeat(20_000) }), code: 'PAYLOAD_TOO_LARGE', status: 431 },
  { what: 'a URL of 100 KB', request: get('/download/file?s3_key=' + 'k'.repeat(100_000)), code: 'PAYLOAD_TOO_LARGE', status: 431 },
  { what: 'a request that is not HTTP', request: wire('HELLO THERE\r\n\r\n'), code: 'INVALID_PARAMETER' },
  { what: 'Content-Length and Transfer-Encoding together (smuggling)', request: wire('POST /upload/file?s3_key=s.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), code: 'INVALID_PARAMETER' },
  { what: 'an Expect other than 100-continue', request: raw('POST', '/upload/file?s3_key=expect.txt', 'x', { expect: 'foo', 'content-type': 'text/plain' }), code: 'EXPECTATION_FAILED', status: 417 },
  { what: 'a path that is not valid percent-encoding (/metrics%ff)', request: get('/metrics%ff'), code: 'INVALID_PARAMETER', status: 400 },
  { what: 'a route path with broken percent-encoding (/download/file%E0%A4%A)', request: get('/download/file%E0%A4%A?s3_key=a'), code: 'INVALID_PARAMETER', status: 400 },
  { what: 'a bad chunk size', request: wire('POST /upload/file?s3_key=s.txt HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n'), code: ['INVALID_PARAMETER', 'MISSING_FILE'] }
]

describe('hostile input', () => {
  let s3: TestS3
  let gw: Gateway
  let before0: string[]

  async function objects (): Promise<string[]> {
    const list = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))
    return (list.Contents ?? []).map((o) => `${o.Key ?? ''} ${o.Size ?? 0} ${o.ETag ?? ''}`).sort()
  }

  before(async () => {
    s3 = await startTestS3()
    gw = await startGateway(s3, { MAX_UPLOAD_BYTES: String(MAX_UPLOAD), BASE64_MAX_BYTES: String(BASE64_MAX), DIFY_ENDPOINT: 'http://127.0.0.1:9' })
    await putObject(s3, FIXTURE, 'fixture')
    before0 = await objects()
  })
  after(async () => {
    await gw?.close()
    await s3?.close()
  })

  it(`has at least 60 cases (${CASES.length})`, () => { assert.ok(CASES.length >= 60) })

  for (const c of CASES) {
    it(`${c.what} → ${[c.code].flat().join(' | ')}`, async () => {
      const res = await c.request(gw.url)
      const codes = [c.code].flat()
      const expected = c.status ?? ERROR_STATUS[codes[0] as keyof typeof ERROR_STATUS]
      if (c.status !== undefined || codes.length === 1) assert.equal(res.status, expected, res.body.toString().slice(0, 300))
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`)
      const body = JSON.parse(res.body.toString()) as Record<string, unknown>
      assert.ok(codes.includes(String(body.code)), `code ${String(body.code)}: ${String(body.message)}`)
      assert.ok(String(body.code) in ERROR_STATUS, 'a code of the contract')
      assert.equal(body.statusCode, res.status)
      assert.equal(typeof body.message, 'string')
      assert.ok(res.body.toString().endsWith('}\n'), 'a JSON answer ends with a newline')
    })
  }

  /** everything the server writes on one connection until it closes it */
  async function conversation (bytes: Buffer[], settle = 10_000): Promise<string> {
    const { port } = new URL(gw.url)
    return await new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1')
      const chunks: Buffer[] = []
      const timer = setTimeout(() => { socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')) }, settle)
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')) })
      socket.on('error', reject)
      socket.on('connect', () => { for (const b of bytes) socket.write(b) })
    })
  }

  it('keeps answers in order on one keep-alive connection: a download\'s 200 comes whole before a malformed request\'s 431', async () => {
    const big = 'ordered/big.bin'
    const data = Buffer.alloc(512 * 1024, 'd')
    await putObject(s3, big, data)
    const text = await conversation([
      Buffer.from(`GET /download/file?s3_key=${big} HTTP/1.1\r\nHost: x\r\n\r\n`),
      Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ${'f'.repeat(20_000)}\r\n\r\n`)
    ])
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])
    assert.deepEqual(statuses.slice(0, 2), ['200', '431'], text.slice(0, 300))
    const first = text.indexOf('\r\n\r\n') + 4
    assert.equal(text.slice(first, first + data.length), data.toString('latin1'), 'the whole object, then the next answer')
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: big }))
  })

  it('an upload followed on its connection by garbage is answered 201 (it was stored), then 400', async () => {
    const k = 'ordered/upload.txt'
    const text = await conversation([
      Buffer.from(`POST /upload/file?s3_key=${k} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`),
      Buffer.from('NOT HTTP AT ALL\r\n\r\n')
    ])
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])
    assert.deepEqual(statuses, ['201', '400'], text.slice(0, 500))
    assert.equal((await objectBody(s3, k))?.toString(), 'hello')
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: k }))
  })

  it('public /readyz says ready or not and names no bucket; with a key it names the bucket', async () => {
    const open = await fetch(`${gw.url}/readyz`)
    assert.equal(open.status, 200)
    const text = await open.text()
    assert.deepEqual(JSON.parse(text), { status: 'ready' })
    assert.ok(!text.includes(s3.bucket))
  })

  it('left the service healthy and the bucket as it was', async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
    assert.deepEqual(await objects(), before0)
  })
})

// API keys, the error shape of unknown routes and methods, and S3 failures.
import assert from 'node:assert/strict'
import { writeFileSync, mkdtempSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadRouteTable } from '../src/dify/endpoints.js'
import { type Gateway, gatewaySuite, logCapture, objectBody, putObject, refusedPort, startGateway, startTestS3, type TestS3, uniqueKey, unlessS3rver } from './helper.js'

const KEYS = ['key-one-0123456789', 'key-two-abcdefghij']

/** every tool route, from the route table (public: /healthz, /readyz) */
const TOOL_ROUTES: Array<[string, string]> = loadRouteTable().map((route) => [route.method, route.path])

/** API.md: the routes that need no key */
const PUBLIC_PATHS = ['/healthz', '/readyz', '/openapi.json']

describe('API keys', () => {
  let s3: TestS3
  let gw: Gateway
  let logLines: string[] = []
  let key: string

  before(async () => {
    s3 = await startTestS3()
    const dir = mkdtempSync(join(tmpdir(), 'gw-keys-'))
    writeFileSync(join(dir, 'keys'), `# one key a line\n${KEYS[1] ?? ''}\n\n`)
    const { stream, lines } = logCapture()
    logLines = lines
    gw = await startGateway(s3, { API_KEYS: KEYS[0] ?? '', API_KEYS_FILE: join(dir, 'keys'), LOG_LEVEL: 'trace' }, { logger: { stream } })
    key = uniqueKey('private.txt')
    await putObject(s3, key, 'private')
  })
  after(async () => {
    await gw.close()
    await s3.close()
  })

  for (const [method, path] of TOOL_ROUTES) {
    it(`${method} ${path} answers 401 UNAUTHORIZED without a key, and with a wrong one`, async () => {
      for (const headers of [{}, { authorization: 'Bearer wrong-key' }, { 'x-api-key': 'wrong-key' }, { authorization: 'Basic wrong-key' }] as Array<Record<string, string>>) {
        const res = await fetch(`${gw.url}${path}?s3_key=${encodeURIComponent(key)}`, { method, headers })
        assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`)
        assert.equal(res.headers.get('www-authenticate'), 'Bearer')
        if (method !== 'HEAD') assert.equal((await res.json() as Record<string, unknown>).code, 'UNAUTHORIZED')
      }
    })
  }

  it('accepts a key as Bearer or X-API-Key, from API_KEYS and API_KEYS_FILE', async () => {
    for (const headers of [{ authorization: `Bearer ${KEYS[0] ?? ''}` }, { 'x-api-key': KEYS[1] ?? '' }, { authorization: `bearer ${KEYS[1] ?? ''}` }] as Array<Record<string, string>>) {
      const res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`, { headers })
      assert.equal(res.status, 200, JSON.stringify(headers))
      assert.equal(await res.text(), 'private')
    }
  })

  it('/readyz needs no key, and checks one that is sent', async () => {
    for (const [headers, status] of [[{}, 200], [{ authorization: `Bearer ${KEYS[0] ?? ''}` }, 200], [{ 'x-api-key': 'wrong-key' }, 401]] as const) {
      const res = await fetch(`${gw.url}/readyz`, { headers })
      assert.equal(res.status, status, JSON.stringify(headers))
      await res.arrayBuffer()
    }
  })

  it('takes no word of a comment line in API_KEYS_FILE as a key', async () => {
    for (const word of ['one', 'key', 'a', 'line', '#']) {
      const res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${word}` } })
      assert.equal(res.status, 401, word)
      await res.arrayBuffer()
    }
  })

  it('counts the Bearer key when both headers are sent', async () => {
    let res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`, { headers: { authorization: 'Bearer wrong', 'x-api-key': KEYS[0] ?? '' } })
    assert.equal(res.status, 401)
    res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${KEYS[0] ?? ''}`, 'x-api-key': 'wrong' } })
    assert.equal(res.status, 200)
    await res.arrayBuffer()
  })

  it('leaves /healthz and /readyz public', async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
    const ready = await fetch(`${gw.url}/readyz`)
    assert.equal(ready.status, 200)
    assert.deepEqual(await ready.json(), { status: 'ready' }, 'no bucket name to a caller without a key')
    const keyed = await fetch(`${gw.url}/readyz`, { headers: { authorization: `Bearer ${KEYS[0] ?? ''}` } })
    assert.deepEqual(await keyed.json(), { status: 'ready', bucket: s3.bucket })
  })

  it('answers 401 to Expect: 100-continue before the body is sent', async () => {
    const answer = await new Promise<{ status: number, continued: boolean }>((resolve, reject) => {
      let continued = false
      const req = http.request(`${gw.url}/upload/file?s3_key=x.bin`, { method: 'POST', headers: { expect: '100-continue', 'content-length': 1024 ** 3 } })
      req.on('continue', () => { continued = true; req.destroy() })
      req.on('response', (res) => { res.resume(); resolve({ status: res.statusCode ?? 0, continued }) })
      req.on('error', reject)
      req.flushHeaders()
    })
    assert.deepEqual(answer, { status: 401, continued: false })
  })

  it('lets no route outside the public list answer without a valid key (route inventory)', async () => {
    const inventory = gw.app.routeInventory()
    // GET/DELETE /mcp only answer 405 and /.well-known/* 404 (no OAuth here): public, granting nothing
    const answersNothing = (method: string, url: string): boolean => (url === '/mcp' && method !== 'POST') || (url === '/.well-known/*' && method === 'GET')
    const isPublicPath = (url: string, method = 'GET'): boolean => PUBLIC_PATHS.includes(url) || url === '/docs' || url.startsWith('/docs/') || answersNothing(method, url)
    assert.ok(inventory.length >= 20, `${inventory.length} routes`)
    assert.deepEqual(inventory.filter((r) => r.public && !isPublicPath(r.url, r.method)), [], 'only the public list is flagged public')
    for (const route of inventory) {
      const url = gw.url + route.url.replace(/\*$/, 'static/index.html').replace(/:(\w+)/g, 'x')
      for (const headers of [{}, { authorization: 'Bearer wrong-key' }, { 'x-api-key': 'wrong-key' }] as Array<Record<string, string>>) {
        const res = await fetch(url, { method: route.method, headers })
        // /readyz checks a key that is sent (the tool plugin validates its credentials there)
        if (route.url === '/readyz' && Object.keys(headers).length > 0) assert.equal(res.status, 401, 'a wrong key sent to /readyz')
        else if (isPublicPath(route.url, route.method)) assert.notEqual(res.status, 401, `${route.method} ${route.url} is public`)
        else assert.equal(res.status, 401, `${route.method} ${route.url} answered ${res.status} with ${JSON.stringify(headers)}`)
        await res.arrayBuffer().catch(() => undefined)
      }
    }
    for (const [method, path] of TOOL_ROUTES) assert.ok(inventory.some((r) => r.method === method && r.url === path), `${method} ${path} is in the inventory`)
    assert.ok(inventory.some((r) => r.url === '/metrics' && !r.public), '/metrics needs a key')
    assert.ok(inventory.some((r) => r.url === '/mcp' && r.method === 'POST' && !r.public), 'POST /mcp needs a key')
  })

  it('never logs a key, an Authorization header or the S3 secret', async () => {
    await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${KEYS[0] ?? ''}` } })
    await fetch(`${gw.url}/download/file?s3_key=x`, { headers: { 'x-api-key': KEYS[1] ?? '' } })
    await fetch(`${gw.url}/download/file?s3_key=x`, { headers: { authorization: 'Bearer a-wrong-guess' } })
    const logs = logLines.join('')
    assert.ok(logs.includes('"reqId"'), 'the requests were logged')
    for (const secret of [...KEYS, 'a-wrong-guess', s3.secretAccessKey]) assert.ok(!logs.includes(secret), `${secret} leaked into the logs`)
  })
})

describe('errors', () => {
  const suite = gatewaySuite()

  it('answers 404 ROUTE_NOT_FOUND for an unknown route', async () => {
    const res = await fetch(`${suite.gw.url}/upload/nothing`)
    assert.equal(res.status, 404)
    assert.deepEqual(await res.json(), { statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found', message: 'No route GET /upload/nothing' })
  })

  it('answers 405 METHOD_NOT_ALLOWED with Allow for a known route', async () => {
    const res = await fetch(`${suite.gw.url}/presign?x=1`, { method: 'GET' })
    assert.equal(res.status, 405)
    assert.equal(res.headers.get('allow'), 'POST')
    assert.equal((await res.json() as Record<string, unknown>).code, 'METHOD_NOT_ALLOWED')
    const del = await fetch(`${suite.gw.url}/download/file`, { method: 'DELETE' })
    assert.equal(del.headers.get('allow'), 'GET, HEAD, POST')
  })

  it('answers 400 INVALID_PARAMETER for wrong JSON types and repeated query parameters', async () => {
    let res = await fetch(`${suite.gw.url}/download/base64`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s3_key: ['a'] }) })
    assert.equal(res.status, 400)
    assert.equal((await res.json() as Record<string, unknown>).code, 'INVALID_PARAMETER')
    res = await fetch(`${suite.gw.url}/download/file?s3_key=a&s3_key=b`)
    assert.equal(res.status, 400)
    assert.equal((await res.json() as Record<string, unknown>).code, 'INVALID_PARAMETER')
    res = await fetch(`${suite.gw.url}/presign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' })
    assert.equal(res.status, 400)
    assert.equal((await res.json() as Record<string, unknown>).code, 'INVALID_PARAMETER')
  })

  it('answers requests the HTTP parser refuses in the same JSON shape', async () => {
    const exchange = async (request: string): Promise<string> => await new Promise((resolve, reject) => {
      const socket = net.connect(Number(new URL(suite.gw.url).port), '127.0.0.1', () => { socket.end(request) })
      let answer = ''
      socket.on('data', (c: Buffer) => { answer += c.toString() })
      socket.on('end', () => { resolve(answer) })
      socket.on('error', reject)
    })
    let answer = await exchange('POST /upload/file?s3_key=a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc')
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.equal(JSON.parse(answer.slice(answer.indexOf('{'))).code, 'INVALID_PARAMETER')
    answer = await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    assert.match(answer, /^HTTP\/1\.1 431 /)
    assert.equal(JSON.parse(answer.slice(answer.indexOf('{'))).code, 'PAYLOAD_TOO_LARGE')
  })

  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a malformed Content-Type', async () => {
    const res = await fetch(`${suite.gw.url}/presign`, { method: 'POST', headers: { 'content-type': '/;;' }, body: '{}' })
    assert.equal(res.status, 415)
    assert.equal((await res.json() as Record<string, unknown>).code, 'UNSUPPORTED_MEDIA_TYPE')
  })

  it('answers 502 UPSTREAM_ERROR when S3 refuses the credentials', { skip: unlessS3rver('verify signatures') }, async () => {
    const wrong = await startGateway(suite.s3, { S3_SECRET_KEY: 'not-the-secret' })
    try {
      const res = await fetch(`${wrong.url}/download/file?s3_key=a.txt`)
      assert.equal(res.status, 502)
      const body = await res.json() as Record<string, unknown>
      assert.equal(body.code, 'UPSTREAM_ERROR')
      assert.match(String(body.message), /credentials/)
      // uploads of known length (small, and large enough that S3 may refuse
      // before the body is sent), twice: a refused connection is not reused
      const key = uniqueKey('refused.bin')
      for (const size of [10, 8 * 1024 * 1024, 10]) {
        const up = await fetch(`${wrong.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: Buffer.alloc(size, 1), headers: { 'content-type': 'application/octet-stream' } })
        assert.equal(up.status, 502, `${size} bytes`)
        const answer = await up.json() as Record<string, unknown>
        assert.equal(answer.code, 'UPSTREAM_ERROR')
        assert.match(String(answer.message), /credentials/)
      }
      assert.equal(await objectBody(suite.s3, key), undefined)
    } finally {
      await wrong.close()
    }
  })

  it('answers 502 UPSTREAM_ERROR when the bucket does not exist, and /readyz 503', async () => {
    const missing = await startGateway(suite.s3, { BUCKET_NAME: 'no-such-bucket-here' })
    try {
      const res = await fetch(`${missing.url}/download/file?s3_key=a.txt`)
      assert.equal(res.status, 502)
      assert.equal((await res.json() as Record<string, unknown>).code, 'UPSTREAM_ERROR')
      const up = await fetch(`${missing.url}/upload/file?s3_key=a.txt`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })
      assert.equal(up.status, 502)
      const answer = await up.json() as Record<string, unknown>
      assert.equal(answer.code, 'UPSTREAM_ERROR')
      assert.match(String(answer.message), /bucket does not exist/)
      assert.equal((await fetch(`${missing.url}/readyz`)).status, 503)
    } finally {
      await missing.close()
    }
  })

  describe('S3 unreachable', () => {
    let down: Gateway
    before(async () => {
      down = await startGateway({ ...suite.s3, endpoint: `http://127.0.0.1:${await refusedPort()}` }, { S3_TIMEOUT_MS: '3000' })
    })
    after(async () => { await down.close() })

    it('the service is alive (/healthz 200) but not ready (/readyz 503 UPSTREAM_UNAVAILABLE)', async () => {
      assert.equal((await fetch(`${down.url}/healthz`)).status, 200)
      const ready = await fetch(`${down.url}/readyz`)
      assert.equal(ready.status, 503)
      assert.equal((await ready.json() as Record<string, unknown>).code, 'UPSTREAM_UNAVAILABLE')
    })

    it('downloads answer 503 UPSTREAM_UNAVAILABLE, quickly', async () => {
      for (const path of ['/download/file', '/download/base64']) {
        const started = Date.now()
        const res = await fetch(`${down.url}${path}?s3_key=a.txt`)
        assert.equal(res.status, 503, path)
        assert.equal((await res.json() as Record<string, unknown>).code, 'UPSTREAM_UNAVAILABLE')
        assert.ok(Date.now() - started < 3000, `${path} took ${Date.now() - started} ms`)
      }
    })

    it('uploads of every body kind answer 503 UPSTREAM_UNAVAILABLE', async () => {
      const form = new FormData()
      form.append('file', new Blob(['x']), 'x.txt')
      const attempts: RequestInit[] = [
        { method: 'POST', body: 'raw', headers: { 'content-type': 'text/plain' } },
        { method: 'POST', body: form },
        { method: 'POST', body: new ReadableStream({ start (c) { c.enqueue(new TextEncoder().encode('chunked')); c.close() } }), duplex: 'half' } as RequestInit
      ]
      for (const init of attempts) {
        const res = await fetch(`${down.url}/upload/file?s3_key=a.txt`, init)
        assert.equal(res.status, 503)
        assert.equal((await res.json() as Record<string, unknown>).code, 'UPSTREAM_UNAVAILABLE')
      }
      const res = await fetch(`${down.url}/upload/base64`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s3_key: 'a.txt', file_base64: 'YQ==' }) })
      assert.equal(res.status, 503)
    })
  })

  describe('S3 stalls (accepts connections, never answers)', () => {
    let stalled: Gateway
    let silent: net.Server
    const sockets: net.Socket[] = []
    before(async () => {
      silent = net.createServer((socket) => { sockets.push(socket); socket.on('error', () => {}) })
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const { port } = silent.address() as net.AddressInfo
      stalled = await startGateway({ ...suite.s3, endpoint: `http://127.0.0.1:${port}` }, { S3_TIMEOUT_MS: '1000' })
    })
    after(async () => {
      await stalled.close()
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })

    it('downloads and uploads answer 504 UPSTREAM_TIMEOUT within about S3_TIMEOUT_MS', async () => {
      const attempts: Array<[string, RequestInit]> = [
        ['/download/file?s3_key=a.txt', {}],
        ['/download/base64?s3_key=a.txt', {}],
        ['/upload/file?s3_key=a.txt', { method: 'POST', body: 'raw', headers: { 'content-type': 'text/plain' } }]
      ]
      for (const [path, init] of attempts) {
        const started = Date.now()
        const res = await fetch(`${stalled.url}${path}`, init)
        const elapsed = Date.now() - started
        assert.equal(res.status, 504, path)
        assert.equal((await res.json() as Record<string, unknown>).code, 'UPSTREAM_TIMEOUT', path)
        assert.ok(elapsed >= 900 && elapsed < 5000, `${path} took ${elapsed} ms`)
      }
    })

    it('/readyz answers 503 instead of hanging', async () => {
      const res = await fetch(`${stalled.url}/readyz`)
      assert.equal(res.status, 503)
    })
  })
})

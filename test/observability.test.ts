// What operators see: /metrics in the Prometheus format (requests, latency,
// bytes, S3 errors, transfers in flight) and a request id on every answer and
// every log line of a request.
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { authHeaders, eventually, type Gateway, logCapture, startGateway, startTestS3, type TestS3, uniqueKey } from './helper.js'

const KEY = 'metrics-test-key'

/** the value of one sample, matched by name and labels ('' when absent) */
function sample (text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))
    if (wanted) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return 0
}

describe('observability', () => {
  let s3: TestS3
  let gw: Gateway
  let logLines: string[] = []

  before(async () => {
    s3 = await startTestS3()
    const { stream, lines } = logCapture()
    logLines = lines
    gw = await startGateway(s3, { API_KEYS: KEY, LOG_LEVEL: 'info' }, { logger: { stream }, processMetrics: true })
  })
  after(async () => {
    await gw?.close()
    await s3?.close()
  })

  async function metrics (): Promise<string> {
    const res = await fetch(`${gw.url}/metrics`, { headers: authHeaders(KEY) })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    return await res.text()
  }

  describe('/metrics', () => {
    it('needs an API key like every tool', async () => {
      assert.equal((await fetch(`${gw.url}/metrics`)).status, 401)
    })

    it('counts requests by route, method and status, with their latency and wire bytes', async () => {
      const body = Buffer.alloc(300_000, 1)
      const key = uniqueKey('metered.bin')
      const before = await metrics()
      const up = await fetch(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', headers: authHeaders(KEY), body })
      assert.equal(up.status, 201)
      const down = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`, { headers: authHeaders(KEY) })
      assert.equal((await down.arrayBuffer()).byteLength, body.length)
      assert.equal((await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(uniqueKey('none'))}`, { headers: authHeaders(KEY) })).status, 404)
      await fetch(`${gw.url}/no/such/route`, { headers: authHeaders(KEY) })
      const text = await metrics()
      const delta = (name: string, labels: Record<string, string>): number => sample(text, name, labels) - sample(before, name, labels)
      assert.equal(delta('s3_gateway_http_requests_total', { route: '/upload/file', method: 'POST', status: '201' }), 1)
      assert.equal(delta('s3_gateway_http_requests_total', { route: '/download/file', method: 'GET', status: '200' }), 1)
      assert.equal(delta('s3_gateway_http_requests_total', { route: '/download/file', method: 'GET', status: '404' }), 1)
      assert.equal(delta('s3_gateway_http_requests_total', { route: 'unmatched', status: '404' }), 1, 'unknown URLs share one label')
      assert.equal(delta('s3_gateway_http_request_duration_seconds_count', { route: '/upload/file', status: '201' }), 1)
      const received = delta('s3_gateway_http_received_bytes_total', { route: '/upload/file' })
      assert.ok(received >= body.length && received < body.length + 2000, `received ${received}`)
      const sent = delta('s3_gateway_http_sent_bytes_total', { route: '/download/file' })
      assert.ok(sent >= body.length && sent < body.length + 4000, `sent ${sent}`)
      assert.ok(sample(text, 's3_gateway_process_resident_memory_bytes') > 0, 'process metrics')
    })

    it('shows a transfer in flight while its body streams, and none after', async () => {
      const key = uniqueKey('slow.bin')
      const req = http.request(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', headers: { ...authHeaders(KEY), 'content-length': 2000 } })
      const answered = new Promise<number>((resolve, reject) => { req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0) }); req.on('error', reject) })
      req.write(Buffer.alloc(1000))
      await eventually('the upload counted in flight', async () => sample(await metrics(), 's3_gateway_transfers_in_flight', { route: '/upload/file' }) === 1)
      req.end(Buffer.alloc(1000))
      assert.equal(await answered, 201)
      await eventually('no transfer in flight', async () => sample(await metrics(), 's3_gateway_transfers_in_flight', { route: '/upload/file' }) === 0)
    })

    it('counts S3 failures by code', async () => {
      const server = net.createServer()
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as net.AddressInfo
      await new Promise((resolve) => server.close(resolve))
      const down = await startGateway({ ...s3, endpoint: `http://127.0.0.1:${port}` }, { API_KEYS: KEY, S3_TIMEOUT_MS: '2000' })
      try {
        const res = await fetch(`${down.url}/download/file?s3_key=x`, { headers: authHeaders(KEY) })
        assert.equal(res.status, 503)
        const text = await (await fetch(`${down.url}/metrics`, { headers: authHeaders(KEY) })).text()
        assert.equal(sample(text, 's3_gateway_s3_errors_total', { code: 'UPSTREAM_UNAVAILABLE' }), 1, text.split('\n').filter((l) => l.includes('s3_errors')).join('\n'))
      } finally {
        await down.close()
      }
    })
  })

  describe('request ids', () => {
    it('answers every request with an X-Request-Id, errors and refusals included', async () => {
      const ids = new Set<string>()
      for (const res of [await fetch(`${gw.url}/healthz`), await fetch(`${gw.url}/download/file?s3_key=x`), await fetch(`${gw.url}/nowhere`)]) {
        const id = res.headers.get('x-request-id') ?? ''
        assert.match(id, /^[0-9a-f-]{36}$/)
        ids.add(id)
      }
      assert.equal(ids.size, 3)
    })

    it("keeps a caller's plain X-Request-Id and replaces one that could forge log lines", async () => {
      const kept = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'dify-run-7f3a.step:2' } })
      assert.equal(kept.headers.get('x-request-id'), 'dify-run-7f3a.step:2')
      for (const hostile of ['a b', 'x'.repeat(200), 'id";{"level":60}']) {
        const res = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': hostile } })
        assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, hostile)
      }
    })

    it('puts the id on every log line of the request', async () => {
      const res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(uniqueKey('missing'))}`, { headers: { ...authHeaders(KEY), 'x-request-id': 'trace-me-1' } })
      assert.equal(res.status, 404)
      await eventually('the request logged', async () => logLines.some((l) => l.includes('request completed') && l.includes('trace-me-1')))
      const ours = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'trace-me-1')
      assert.deepEqual(ours.map((l) => l.msg), ['incoming request', 'No such object: ' + String(ours[1]?.msg).slice('No such object: '.length), 'request completed'])
      assert.ok(logLines.every((l) => !l.includes(KEY)), 'the key never reaches the log')
    })

    it('keeps a signed file_url in the query string out of the log', async () => {
      const signed = encodeURIComponent('/files/abc/file-preview?timestamp=1&nonce=2&sign=very-secret-signature')
      await fetch(`${gw.url}/upload/url?s3_key=a.txt&file_url=${signed}`, { method: 'POST', headers: { ...authHeaders(KEY), 'x-request-id': 'signed-url-1' } })
      await eventually('the request logged', async () => logLines.some((l) => l.includes('request completed') && l.includes('signed-url-1')))
      const incoming = logLines.map((l) => JSON.parse(l) as { reqId?: string, req?: { url?: string } }).find((l) => l.reqId === 'signed-url-1' && l.req !== undefined)
      assert.equal(incoming?.req?.url, '/upload/url?s3_key=a.txt&file_url=[redacted]')
      assert.ok(logLines.every((l) => !l.includes('very-secret-signature')))
    })
  })
})

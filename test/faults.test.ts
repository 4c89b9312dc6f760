// S3 faults, injected by a TCP proxy between the gateway and a real S3
// server: down, stalled, cut mid-download, failing with 5xx. The gateway
// answers each with the contract's code in bounded time and recovers.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { eventually, fetchJson, objectBody, putObject, startGateway, startTestS3, uniqueKey, type Gateway, type TestS3 } from './helper.js'

const TIMEOUT_MS = 1500
const MiB = 1024 * 1024

describe('S3 faults', () => {
  let s3: TestS3
  let proxy: FaultProxy
  let gw: Gateway
  const big = randomBytes(4 * 1024 * 1024)
  let bigKey: string

  before(async () => {
    s3 = await startTestS3()
    proxy = await startFaultProxy(s3.endpoint)
    gw = await startGateway({ ...s3, endpoint: proxy.endpoint }, { S3_TIMEOUT_MS: String(TIMEOUT_MS) })
    bigKey = uniqueKey('big.bin')
    await putObject(s3, bigKey, big)
  })
  after(async () => {
    await gw?.close()
    await proxy?.close()
    await s3?.close()
  })

  async function timed<T> (work: () => Promise<T>): Promise<{ value: T, ms: number }> {
    const started = Date.now()
    const value = await work()
    return { value, ms: Date.now() - started }
  }

  it('S3 down → 503 UPSTREAM_UNAVAILABLE quickly and /readyz 503; recovery once it is back', async () => {
    await proxy.setMode({ kind: 'refuse' })
    try {
      const { value, ms } = await timed(async () => await fetchJson(`${gw.url}/download/base64?s3_key=${encodeURIComponent(bigKey)}`))
      assert.equal(value.status, 503)
      assert.equal(value.body.code, 'UPSTREAM_UNAVAILABLE')
      assert.ok(ms < TIMEOUT_MS + 1000, `answered after ${ms} ms`)
      const ready = await fetchJson(`${gw.url}/readyz`)
      assert.equal(ready.status, 503)
      assert.equal(ready.body.code, 'UPSTREAM_UNAVAILABLE')
      const key = uniqueKey('while-down.txt')
      const up = await fetchJson(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })
      assert.equal(up.status, 503)
    } finally {
      await proxy.setMode({ kind: 'pass' })
    }
    await eventually('/readyz 200 again', async () => (await fetch(`${gw.url}/readyz`)).status === 200)
    const res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(bigKey)}`)
    assert.equal(res.status, 200)
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), big)
  })

  it('S3 stalls → 504 UPSTREAM_TIMEOUT within S3_TIMEOUT_MS, for a download and an upload', async () => {
    await proxy.setMode({ kind: 'stall' })
    try {
      const down = await timed(async () => await fetchJson(`${gw.url}/download/file?s3_key=${encodeURIComponent(bigKey)}`))
      assert.equal(down.value.status, 504)
      assert.equal(down.value.body.code, 'UPSTREAM_TIMEOUT')
      assert.ok(down.ms >= TIMEOUT_MS - 100 && down.ms < TIMEOUT_MS + 1500, `answered after ${down.ms} ms`)
      const key = uniqueKey('stalled-up.bin')
      const up = await timed(async () => await fetchJson(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: randomBytes(100_000) }))
      assert.equal(up.value.status, 504, JSON.stringify(up.value.body))
      assert.ok(up.ms < TIMEOUT_MS + 2500, `answered after ${up.ms} ms`)
      await proxy.setMode({ kind: 'pass' })
      assert.equal(await objectBody(s3, key), undefined)
    } finally {
      await proxy.setMode({ kind: 'pass' })
    }
  })

  for (const route of ['/download/file', '/download/base64']) {
    it(`S3 cuts a download midway → ${route}'s answer is aborted, never a clean short 200`, async () => {
      await proxy.setMode({ kind: 'cut', afterBytes: 1024 * 1024 })
      try {
        const res = await fetch(`${gw.url}${route}?s3_key=${encodeURIComponent(bigKey)}`)
        assert.equal(res.status, 200, 'the headers went out before the cut')
        await assert.rejects(res.arrayBuffer(), 'the body ends in an error, not a short success')
      } finally {
        await proxy.setMode({ kind: 'pass' })
      }
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
    })
  }

  it('S3 answers 5xx → the gateway retries, then answers 502 UPSTREAM_ERROR', async () => {
    await proxy.setMode({ kind: 'status', status: 500, code: 'InternalError' })
    proxy.statusAnswers = 0
    try {
      const res = await fetchJson(`${gw.url}/download/file?s3_key=${encodeURIComponent(bigKey)}`)
      assert.equal(res.status, 502)
      assert.equal(res.body.code, 'UPSTREAM_ERROR')
      assert.ok(proxy.statusAnswers >= 2, `S3 was asked ${proxy.statusAnswers} time(s)`)
    } finally {
      await proxy.setMode({ kind: 'pass' })
    }
  })

  it('S3 answers 503 SlowDown once → the retry succeeds', async () => {
    proxy.statusAnswers = 0
    await proxy.setMode({ kind: 'status', status: 503, code: 'SlowDown', times: 1 })
    try {
      const res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(bigKey)}`)
      assert.equal(proxy.statusAnswers, 1)
      assert.equal(res.status, 200)
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), big)
    } finally {
      await proxy.setMode({ kind: 'pass' })
    }
  })

  it('a client that stops reading does not pin memory: the gateway stops pulling from S3', async (t) => {
    // Loopback sockets may buffer tens of MiB in the kernel (tcp_rmem max is
    // 32 MiB here), so the object is far larger than anything the sockets
    // between S3, the gateway and the client can hold. Without backpressure
    // the gateway would pull all of it in well under a second.
    const size = 160 * MiB
    const key = uniqueKey('huge.bin')
    const chunk = randomBytes(MiB)
    await putObject(s3, key, Readable.from((function * () { for (let i = 0; i < size / MiB; i++) yield chunk })()), 'application/octet-stream', size)
    const started = proxy.downstreamBytes
    const req = http.get(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`)
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve))
    assert.equal(res.statusCode, 200)
    res.pause()
    const pulled = async (): Promise<number> => { await new Promise((resolve) => setTimeout(resolve, 500)); return proxy.downstreamBytes - started }
    // Wait until the pull stops (two samples 0.5 s apart agree), bounded.
    let last = await pulled()
    for (let i = 0; i < 20; i++) {
      const now = await pulled()
      if (now === last) break
      last = now
    }
    t.diagnostic(`pulled ${(last / MiB).toFixed(1)} MiB of ${size / MiB} before the pull stopped`)
    assert.ok(last < size * 0.6, `the gateway pulled ${(last / MiB).toFixed(1)} MiB of ${size / MiB} for a client that read nothing`)
    req.destroy()
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200)
  })
})

// A rolling restart a proxy never notices (nginx, Kubernetes): from the moment
// shutdown begins /readyz answers 503, a request in flight is served and its
// answer says Connection: close, a request a proxy sends on a connection it
// kept in its pool is served the same way (never cut: an upload nginx has begun
// to stream cannot be sent elsewhere), an idle keep-alive connection is closed
// only once the server has been quiet for SHUTDOWN_IDLE_MS (not answered 503),
// and close() resolves when the last connection is gone.
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { describe, it } from 'node:test'
import { eventually, objectBody, sha256, startGateway, startTestS3, uniqueKey } from './helper.js'

/** a raw connection and everything the server wrote on it */
function connection (url: string): { socket: net.Socket, received: () => string, closed: Promise<void> } {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => { resolve() }))
  return { socket, received: () => Buffer.concat(chunks).toString('latin1'), closed }
}

async function within<T> (what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: not within ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

describe('shutdown as a rolling restart sees it', { timeout: 60_000 }, () => {
  it('readyz 503 at once, requests on pooled connections and in flight served with Connection: close, idle ones closed once quiet', async () => {
    const s3 = await startTestS3()
    const idleMs = 1500
    const gw = await startGateway(s3, { SHUTDOWN_TIMEOUT_MS: '20000', SHUTDOWN_IDLE_MS: String(idleMs) })
    try {
      // two idle keep-alive connections, as a proxy keeps in its pool
      const pooled = [connection(gw.url), connection(gw.url)] as const
      for (const c of pooled) {
        c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        await eventually('the first answer', async () => c.received().includes('"status":"ok"'), 5000)
        assert.match(c.received(), /Connection: keep-alive/i)
      }
      const [idle, reused] = pooled
      const answeredBefore = idle.received().length
      let idleClosedAt = 0
      idle.closed.then(() => { idleClosedAt = Date.now() }, () => {})

      // an upload in flight: headers and half its body
      const key = uniqueKey('rolling.bin')
      const data = Buffer.alloc(2 * 1024 * 1024, 5)
      const busy = connection(gw.url)
      busy.socket.write(`POST /upload/file?s3_key=${key} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`)
      busy.socket.write(data.subarray(0, data.length / 2))
      await new Promise((resolve) => setTimeout(resolve, 200))

      let closedAt = 0
      const closing = gw.app.close().then(() => { closedAt = Date.now() })
      await eventually('shutdown has begun', async () => gw.app.draining, 2000)
      // the closing server takes no new connection: ask its routes over a second listener
      const probe = http.createServer((req, res) => { gw.app.routing(req, res) })
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
      try {
        const ready = await fetch(`http://127.0.0.1:${(probe.address() as net.AddressInfo).port}/readyz`)
        assert.equal(ready.status, 503)
        assert.equal((await ready.json() as { code: string }).code, 'SERVICE_OVERLOADED')
      } finally {
        probe.closeAllConnections()
        await new Promise((resolve) => probe.close(resolve))
      }

      // a proxy sends an upload on a connection from its pool after shutdown began: served, then closed
      const pooledKey = uniqueKey('pooled.bin')
      const small = Buffer.alloc(64 * 1024, 7)
      const before = reused.received().length
      reused.socket.write(`POST /upload/file?s3_key=${pooledKey} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${small.length}\r\n\r\n`)
      reused.socket.write(small)
      await within('the pooled upload answered and its connection closed', 10_000, reused.closed)
      const pooledAnswer = reused.received().slice(before)
      assert.match(pooledAnswer, /^HTTP\/1\.1 201 /, pooledAnswer.slice(0, 300))
      assert.match(pooledAnswer, /\r\nConnection: close\r\n/i)
      assert.equal((await objectBody(s3, pooledKey))?.length, small.length)
      assert.equal(idleClosedAt, 0, 'the idle connection stays open while a transfer runs')

      busy.socket.write(data.subarray(data.length / 2))
      await within('the upload answered and its connection closed', 10_000, busy.closed)
      const answeredAt = Date.now()
      const answer = busy.received()
      assert.match(answer, /^HTTP\/1\.1 201 /, answer.slice(0, 300))
      assert.match(answer, /\r\nConnection: close\r\n/i, 'the answer closes its connection')
      assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { sha256: string }).sha256, sha256(data))

      await within('the idle connection closed by the server once quiet', idleMs + 5000, idle.closed)
      assert.ok(idleClosedAt - answeredAt >= idleMs - 500, `closed ${idleClosedAt - answeredAt} ms after the last answer, not before ${idleMs} ms of quiet`)
      assert.equal(idle.received().length, answeredBefore, 'nothing more was written on it: no 503')
      await within('close() resolves once the last connection is gone', 5000, closing)
      assert.ok(closedAt - answeredAt >= idleMs - 500, `close() resolved ${closedAt - answeredAt} ms after the last answer: it waited for the idle connection`)
      assert.equal((await objectBody(s3, key))?.length, data.length)
    } finally {
      await gw.close().catch(() => {})
      await s3.close()
    }
  })
})

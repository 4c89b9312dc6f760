// Load and overload: 64 concurrent 8 MiB round trips with SHA-256 checks and
// bounded memory; past MAX_CONCURRENT_TRANSFERS, 503 with Retry-After.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { fetchJson, postJson, startGateway, startTestS3, uniqueKey, type Gateway, type TestS3 } from './helper.js'

const MiB = 1024 * 1024
const TRANSFERS = 64
const SIZE = 8 * MiB

/** 8 MiB unique to `seed`, generated as it is sent: the test holds one 1 MiB block, not 512 MiB */
function payload (block: Buffer, seed: number): { stream: () => Readable, sha256: string } {
  // each MiB: a marker, then the block rotated at a place of its own (lengths add up to 1 MiB)
  const chunks = Array.from({ length: SIZE / MiB }, (_v, i) => {
    const marker = Buffer.from(`${seed}:${i};`)
    return { marker, offset: marker.length + (seed * 7919 + i * 104_729) % (MiB - 64) }
  })
  const make = (c: { offset: number, marker: Buffer }): Buffer[] => [c.marker, block.subarray(c.offset), block.subarray(c.marker.length, c.offset)]
  const hash = createHash('sha256')
  let length = 0
  for (const c of chunks) for (const part of make(c)) { hash.update(part); length += part.length }
  assert.equal(length, SIZE, 'payload size')
  return { stream: () => Readable.from((function * () { for (const c of chunks) yield * make(c) })()), sha256: hash.digest('hex') }
}

async function upload (url: string, body: Readable): Promise<{ status: number, body: Record<string, unknown> }> {
  return await new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-length': SIZE, 'content-type': 'application/octet-stream' } }, (res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }) })
    })
    req.on('error', reject)
    body.pipe(req)
  })
}

async function downloadSha (url: string): Promise<string> {
  const res = await fetch(url)
  assert.equal(res.status, 200)
  const hash = createHash('sha256')
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk)
  return hash.digest('hex')
}

describe('load', () => {
  let s3: TestS3
  let gw: Gateway

  before(async () => {
    s3 = await startTestS3()
    gw = await startGateway(s3)
  })
  after(async () => {
    await gw?.close()
    await s3?.close()
  })

  it(`${TRANSFERS} concurrent round trips of 8 MiB: zero errors, every SHA-256 right, memory far below the data moved`, { timeout: 300_000 }, async () => {
    const block = randomBytes(MiB)
    const payloads = Array.from({ length: TRANSFERS }, (_v, i) => payload(block, i))
    const keys = payloads.map((_p, i) => uniqueKey(`load/${i}.bin`))
    global.gc?.()
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 50)
    try {
      const uploads = await Promise.all(payloads.map(async (p, i) => await upload(`${gw.url}/upload/file?s3_key=${encodeURIComponent(keys[i] ?? '')}`, p.stream())))
      for (const [i, answer] of uploads.entries()) {
        assert.equal(answer.status, 201, JSON.stringify(answer.body))
        assert.equal(answer.body.sha256, payloads[i]?.sha256, `upload ${i}`)
        assert.equal(answer.body.size, SIZE)
      }
      const downloads = await Promise.all(keys.map(async (key) => await downloadSha(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`)))
      assert.deepEqual(downloads, payloads.map((p) => p.sha256))
    } finally {
      clearInterval(sampler)
    }
    const growth = (peak - baseline) / MiB
    // 1 GiB crossed the gateway (and the test's client, and s3rver, all in this process)
    console.log(`# load: ${TRANSFERS} × 8 MiB up and down; this process's RSS grew ${growth.toFixed(0)} MiB over ${(baseline / MiB).toFixed(0)} MiB`)
    assert.ok(growth < 384, `RSS grew ${growth.toFixed(0)} MiB while moving ${2 * TRANSFERS * SIZE / MiB} MiB`)
  })
})

describe('overload protection', () => {
  let s3: TestS3
  let gw: Gateway

  before(async () => {
    s3 = await startTestS3()
    gw = await startGateway(s3, { MAX_CONCURRENT_TRANSFERS: '2' })
  })
  after(async () => {
    await gw?.close()
    await s3?.close()
  })

  function slowUpload (key: string): { finish: () => Promise<number> } {
    const req = http.request(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', headers: { 'content-length': 2000 } })
    const status = new Promise<number>((resolve, reject) => { req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0) }); req.on('error', reject) })
    req.write(Buffer.alloc(1000))
    return { finish: async () => { req.end(Buffer.alloc(1000)); return await status } }
  }

  it('answers 503 SERVICE_OVERLOADED with Retry-After past MAX_CONCURRENT_TRANSFERS, serves the rest, and frees the slots', async () => {
    const a = slowUpload(uniqueKey('a.bin'))
    const b = slowUpload(uniqueKey('b.bin'))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const refused = await fetch(`${gw.url}/upload/file?s3_key=c.bin`, { method: 'POST', body: 'c', headers: { 'content-type': 'text/plain' } })
    assert.equal(refused.status, 503)
    assert.equal(refused.headers.get('retry-after'), '5')
    assert.equal((await refused.json() as Record<string, unknown>).code, 'SERVICE_OVERLOADED')
    assert.equal((await fetch(`${gw.url}/download/file?s3_key=x`)).status, 503)
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'health is not a transfer')
    assert.equal((await postJson(`${gw.url}/presign`, { s3_key: 'x' })).status, 200, 'presign is not a transfer')
    assert.equal(await a.finish(), 201)
    assert.equal(await b.finish(), 201)
    const key = uniqueKey('after.txt')
    const again = await fetchJson(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: 'after', headers: { 'content-type': 'text/plain' } })
    assert.equal(again.status, 201, 'slots are freed')
  })

  it('frees the slot of a client that hangs up mid-download', async () => {
    const key = uniqueKey('big.bin')
    const put = await fetchJson(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: randomBytes(8 * MiB) })
    assert.equal(put.status, 201)
    for (let i = 0; i < 4; i++) {
      const controller = new AbortController()
      const res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`, { signal: controller.signal })
      assert.equal(res.status, 200, `round ${i}`)
      controller.abort()
      await res.body?.cancel().catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const res = await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`)
    assert.equal(res.status, 200)
    assert.equal((await res.arrayBuffer()).byteLength, 8 * MiB)
  })
})

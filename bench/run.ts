// npm run bench: the service beside a bare node:http relay and direct S3, in
// the same run, alternated, several rounds; medians, ratios, CPU per GiB and
// peak RSS. See README "Performance" and bench/README.md.
import { cpus, release, totalmem } from 'node:os'
import { readFileSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { loadConfig } from '../src/config.js'
import { startBackend, type Backend } from './backend.js'
import { base64Body, exchange, formBody, hammer, MiB, uploadBody, type Endpoint, type LoadResult, type UploadMode } from './clients.js'
import { busySince, cpuSeconds, machineTicks, peakRss, sleep, startChild, type Child } from './procs.js'
import { benchS3Client } from './s3.js'
import { evaluate, printReport, type DifyRow, type MemoryRow, type Report, type Sample, type SmallRow, type SweepRow, type ThroughputRow, type Via } from './report.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** the service's own defaults for UPLOAD_PART_SIZE_MIB × UPLOAD_PART_CONCURRENCY */
const SERVICE_PARTS = (({ s3 }) => ({ partMiB: s3.partSize / MiB, concurrency: s3.partConcurrency }))(
  loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:1', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', BUCKET_NAME: 'bench', AUTH_DISABLED: 'true' }))

interface PartSettings {
  partMiB: number
  concurrency: number
}
const API_KEY = 'bench-key-0123456789abcdef'
const VIAS: Via[] = ['service', 'relay', 'sdk', 'direct']

/** one timed transfer, and what to check or clean up after the clock stops */
interface Transfer {
  run: () => Promise<void>
  after?: () => Promise<void>
}

const settings = {
  backend: process.env.BENCH_S3 ?? 's3rver',
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  bigBytes: Number(process.env.BENCH_SIZE_MIB ?? 1024) * MiB,
  base64Bytes: Number(process.env.BENCH_BASE64_MIB ?? 32) * MiB,
  base64Repeats: Number(process.env.BENCH_BASE64_REPEATS ?? 4),
  smallBytes: 4096,
  smallConnections: Number(process.env.BENCH_CONNECTIONS ?? 32),
  smallSeconds: Number(process.env.BENCH_SMALL_SECONDS ?? 10),
  memorySizesMiB: (process.env.BENCH_MEMORY_MIB ?? '64,256,1024').split(',').map(Number),
  concurrent: 8,
  concurrentMiB: Number(process.env.BENCH_CONCURRENT_MIB ?? 256),
  /** base64 uploads in the memory case: one of this size, and `concurrent` of the second at once */
  base64UploadMiB: (process.env.BENCH_BASE64_UPLOAD_MIB ?? '32,24').split(',').map(Number),
  /** the Dify-shaped load: connections, file sizes, seconds per run */
  difyConnections: (process.env.BENCH_DIFY_CONNECTIONS ?? '16,64').split(',').map(Number),
  difySizesMiB: (process.env.BENCH_DIFY_MIB ?? '1,5,15').split(',').map(Number),
  difySeconds: Number(process.env.BENCH_DIFY_SECONDS ?? 6),
  /** comma-separated subset of: upload, download, base64, small, memory, dify, sweep (not run unless named) */
  cases: new Set((process.env.BENCH_CASES ?? 'upload,download,base64,small,memory,dify').split(',')),
  /**
   * the upload case's rows: 1 GiB chunked, with a length and as form-data, 16 × 15 MiB form-data, and
   * 1 GiB form-data with UPLOAD_GUESS_MAX_MIB raised to hold it (formguess: the trade-off of speed for memory)
   */
  uploads: new Set((process.env.BENCH_UPLOADS ?? 'chunked,length,multipart,form15,formguess').split(',')),
  /** the sweep case: UPLOAD_PART_SIZE_MIB x UPLOAD_PART_CONCURRENCY settings for chunked uploads */
  sweep: (process.env.BENCH_SWEEP ?? '5x3,8x3,8x4,16x2,16x4').split(',').map((pair) => {
    const [size, concurrency] = pair.split('x').map(Number)
    if (size === undefined || concurrency === undefined || !Number.isInteger(size) || !Number.isInteger(concurrency)) throw new Error(`BENCH_SWEEP: ${pair} is not <part MiB>x<parts in flight>`)
    return { partMiB: size, concurrency }
  })
}

/** the service's command line as `npm start` runs it (node flags included), paths made absolute */
function startArgs (): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const [node, ...args] = pkg.scripts.start.split(/\s+/)
  if (node !== 'node') throw new Error(`package.json's start script does not run node: ${pkg.scripts.start}`)
  return args.map((arg) => arg.startsWith('-') ? arg : join(root, arg))
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => { resolve(port) })
    }).on('error', reject)
  })
}

class Bench {
  readonly s3: S3Client
  service: Child | undefined
  serviceUrl = ''

  constructor (readonly backend: Backend, readonly relay: Child) {
    this.s3 = benchS3Client(backend.endpoint, backend.accessKeyId, backend.secretAccessKey)
  }

  get relayUrl (): string { return `http://127.0.0.1:${this.relay.address}` }

  /** a fresh service process: compiled dist/server.js, production settings, an API key */
  async startService (env: Record<string, string> = {}): Promise<Child> {
    await this.stopService()
    const port = await freePort()
    this.serviceUrl = `http://127.0.0.1:${port}`
    // e.g. BENCH_SERVICE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (see bench/profile.ts)
    const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '')
    const args = startArgs()
    // extra flags after the start script's own, so that they win
    this.service = await startChild('service', [...args.slice(0, -1), ...nodeArgs, ...args.slice(-1)], {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      S3_ENDPOINT: this.backend.endpoint,
      S3_ACCESS_KEY: this.backend.accessKeyId,
      S3_SECRET_KEY: this.backend.secretAccessKey,
      BUCKET_NAME: this.backend.bucket,
      API_KEYS: API_KEY,
      // e.g. BENCH_SERVICE_ENV='GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432': the service's alone
      ...Object.fromEntries((process.env.BENCH_SERVICE_ENV ?? '').split(' ').filter((pair) => pair.includes('=')).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
      ...env
    }, async () => (await fetch(`${this.serviceUrl}/readyz`)).status === 200)
    return this.service
  }

  async stopService (): Promise<number | undefined> {
    if (this.service === undefined) return undefined
    const peak = peakRss(this.service.pid)
    await this.service.stop()
    this.service = undefined
    return peak
  }

  async presign (key: string, method: 'GET' | 'PUT'): Promise<string> {
    const command = method === 'GET' ? new GetObjectCommand({ Bucket: this.backend.bucket, Key: key }) : new PutObjectCommand({ Bucket: this.backend.bucket, Key: key })
    return await getSignedUrl(this.s3, command, { expiresIn: 3600 })
  }

  async sizeOf (key: string): Promise<number | undefined> {
    return (await this.s3.send(new HeadObjectCommand({ Bucket: this.backend.bucket, Key: key }))).ContentLength
  }

  async remove (key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.backend.bucket, Key: key }))
  }

  /** store `size` generated bytes at `key` straight into S3 (test data for downloads) */
  async seed (key: string, size: number): Promise<void> {
    const answer = await exchange('PUT', { url: await this.presign(key, 'PUT') }, uploadBody(size, 'length'))
    if (answer.status !== 200) throw new Error(`seeding ${key}: S3 answered ${answer.status}`)
  }

  serviceEndpoint (path: string, key: string): Endpoint {
    return { url: `${this.serviceUrl}${path}?s3_key=${encodeURIComponent(key)}`, headers: { 'x-api-key': API_KEY } }
  }

  /** where a transfer of `key` goes: the service's `path`, the relay with a presigned URL, or that URL itself */
  async endpoint (via: Via, path: string, key: string, method: 'GET' | 'PUT'): Promise<Endpoint> {
    if (via === 'service') return this.serviceEndpoint(path, key)
    if (via === 'sdk') return { url: `${this.relayUrl}/`, headers: { 'x-sdk-key': key } }
    if (via === 'parts') throw new Error('the relay in parts takes uploads of unknown length only (uploadCase)')
    const url = await this.presign(key, method)
    return via === 'relay' ? { url: `${this.relayUrl}/`, headers: { 'x-target': url } } : { url }
  }

  /** the hop process a via runs through, whose CPU time is measured */
  hop (via: Via): number | undefined {
    return via === 'service' ? this.service?.pid : via === 'direct' ? undefined : this.relay.pid
  }

  /** time one transfer and the hop's CPU seconds for it */
  async timed (via: Via, run: () => Promise<void>): Promise<Sample> {
    const pid = this.hop(via)
    const before = pid !== undefined ? cpuSeconds(pid) : undefined
    const machine = machineTicks()
    const t0 = process.hrtime.bigint()
    await run()
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const busy = busySince(machine)
    if (pid === undefined || before === undefined) return { seconds, cpu: undefined, busy }
    const after = cpuSeconds(pid)
    const user = after.user - before.user
    const system = after.system - before.system
    return { seconds, cpu: user + system, cpuUser: user, cpuSystem: system, busy }
  }

  /**
   * Rounds of one transfer through each via; the order rotates every round so
   * that no via always goes first (or always follows a given other).
   */
  async rounds (name: string, bytes: number, prepare: (via: Via) => Promise<Transfer>, vias: Via[] = VIAS): Promise<ThroughputRow> {
    const samples: ThroughputRow['samples'] = { service: [], relay: [], sdk: [], direct: [], parts: [] }
    // one untimed transfer each way first: the service is fresh for every
    // case while the relay has run the cases before; both start warm
    for (const via of vias) {
      const transfer = await prepare(via)
      await transfer.run()
      await transfer.after?.()
    }
    process.stdout.write('w')
    for (let round = 0; round < settings.rounds; round++) {
      for (let i = 0; i < vias.length; i++) {
        const via = vias[(i + round) % vias.length]!
        const transfer = await prepare(via)
        samples[via].push(await this.timed(via, transfer.run))
        await transfer.after?.()
        process.stdout.write('.')
      }
    }
    process.stdout.write('\n')
    return { name, bytes, samples, peakRss: undefined }
  }

  /** 1 GiB uploads each way; `service` settings (env) and `vias` for the sweep */
  async uploadCase (mode: UploadMode, options: { name?: string, env?: Record<string, string>, vias?: Via[], parts?: PartSettings, size?: number, repeats?: number } = {}): Promise<ThroughputRow> {
    const size = options.size ?? settings.bigBytes
    const repeats = options.repeats ?? 1
    await this.startService(options.env)
    const name = options.name ?? `upload ${size / MiB} MiB, ${mode === 'length' ? 'Content-Length' : mode === 'chunked' ? 'chunked' : 'multipart/form-data'}${repeats > 1 ? ` (× ${repeats} per sample)` : ''}`
    const parts = options.parts ?? SERVICE_PARTS
    // a body of unknown length must go in parts: the relay in parts too, at the service's part settings
    const vias = [...options.vias ?? VIAS, ...mode === 'length' ? [] : ['parts' as const]]
    const row = await this.rounds(name, size * repeats, async (via) => {
      const key = `bench/upload-${mode}-${via}.bin`
      const to = via === 'parts'
        ? { url: `${this.relayUrl}/`, headers: { 'x-parts-key': key, 'x-part-size': String(parts.partMiB * MiB), 'x-part-concurrency': String(parts.concurrency) } }
        : await this.endpoint(via, '/upload/file', key, 'PUT')
      // S3 itself takes no chunked PUT: direct always sends the length
      const body = uploadBody(size, via === 'direct' ? 'length' : mode, 'x-content-length')
      return {
        run: async () => {
          for (let i = 0; i < repeats; i++) {
            // a body is an iterator: a fresh one for each repeat
            const answer = await exchange(via === 'service' ? 'POST' : 'PUT', to, i === 0 ? body : uploadBody(size, via === 'direct' ? 'length' : mode, 'x-content-length'), true)
            if (answer.status !== (via === 'service' ? 201 : 200)) throw new Error(`${via} upload answered ${answer.status}: ${answer.body.toString().slice(0, 300)}`)
          }
        },
        after: async () => {
          // the relays and the SDK hop store a multipart body with its framing
          const stored = await this.sizeOf(key)
          if ((via === 'service' || via === 'direct' || mode !== 'multipart') && stored !== size) throw new Error(`${via} upload stored ${stored ?? 'nothing'} bytes, not ${size}`)
          await this.remove(key)
        }
      }
    }, vias)
    row.peakRss = await this.stopService()
    // a body of unknown length is stored in parts: S3's own pace for them
    if (mode !== 'length' && options.size === undefined) row.ceiling = await this.multipartCeiling(parts)
    return row
  }

  /**
   * S3's multipart ceiling: the same number of bytes, from one buffer in the
   * bench process, straight to S3 as a multipart upload with `concurrency`
   * parts of `partMiB` at once (streamed, as the service sends them, so the
   * SDK hashes nothing). No hop storing a body of unknown length in such
   * parts can be faster; one round each, after the row's rounds.
   */
  async multipartCeiling ({ partMiB, concurrency }: PartSettings): Promise<NonNullable<ThroughputRow['ceiling']>> {
    const partSize = partMiB * MiB
    const part = Buffer.alloc(partSize, 7)
    const count = Math.ceil(settings.bigBytes / partSize)
    const key = 'bench/ceiling.bin'
    const mibPerSecond: number[] = []
    const busy: number[] = []
    for (let round = 0; round < settings.rounds; round++) {
      const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.backend.bucket, Key: key }))
      const parts: CompletedPart[] = []
      let next = 1
      const t0 = process.hrtime.bigint()
      const machine = machineTicks()
      try {
        await Promise.all(Array.from({ length: concurrency }, async () => {
          while (next <= count) {
            const number = next++
            const bytes = Math.min(partSize, settings.bigBytes - (number - 1) * partSize)
            const body = Readable.from([part.subarray(0, bytes)], { objectMode: false })
            const out = await this.s3.send(new UploadPartCommand({ Bucket: this.backend.bucket, Key: key, UploadId, PartNumber: number, ContentLength: bytes, Body: body }))
            parts.push({ PartNumber: number, ETag: out.ETag })
          }
        }))
        parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))
        await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.backend.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }))
      } catch (err) {
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.backend.bucket, Key: key, UploadId })).catch(() => {})
        throw err
      }
      mibPerSecond.push(settings.bigBytes / MiB / (Number(process.hrtime.bigint() - t0) / 1e9))
      busy.push(busySince(machine))
      if (await this.sizeOf(key) !== settings.bigBytes) throw new Error('the multipart ceiling upload stored the wrong size')
      await this.remove(key)
      process.stdout.write('.')
    }
    process.stdout.write('\n')
    return { partMiB, concurrency, mibPerSecond, busy }
  }

  async downloadCase (): Promise<ThroughputRow> {
    const size = settings.bigBytes
    const key = 'bench/download.bin'
    await this.seed(key, size)
    await this.startService()
    const row = await this.rounds(`download ${size / MiB} MiB`, size, async (via) => {
      const from = await this.endpoint(via, '/download/file', key, 'GET')
      return {
        run: async () => {
          const answer = await exchange('GET', from)
          if (answer.status !== 200 || answer.bytes !== size) throw new Error(`${via} download: ${answer.status}, ${answer.bytes} bytes of ${size}`)
        }
      }
    })
    row.peakRss = await this.stopService()
    await this.remove(key)
    return row
  }

  async base64Case (): Promise<ThroughputRow> {
    const size = settings.base64Bytes
    const repeats = settings.base64Repeats
    const key = 'bench/base64.bin'
    await this.seed(key, size)
    const expected = (await this.s3.send(new GetObjectCommand({ Bucket: this.backend.bucket, Key: key })).then(async (out) => Buffer.from(await out.Body!.transformToByteArray()))).toString('base64')
    await this.startService()
    // each timed sample is `repeats` downloads back to back: one 32 MiB
    // transfer takes ~0.15 s here, too short for a stable time or CPU tick count
    const row = await this.rounds(`base64 download ${size / MiB} MiB${repeats > 1 ? ` (× ${repeats} per sample)` : ''}`, size * repeats, async (via) => {
      // fetch() is timed and returns the base64 text's getter, run after the
      // clock stops (the JSON answers are parsed there); the relay's and
      // direct's encoding is their share of the work, so it is timed
      let fetch: () => Promise<() => string>
      if (via === 'service' || via === 'sdk') {
        // the service, or the SDK hop encoding on the way (X-Encode): both answer JSON
        const from = via === 'service' ? this.serviceEndpoint('/download/base64', key) : { url: `${this.relayUrl}/`, headers: { 'x-sdk-key': key, 'x-encode': 'base64' } }
        fetch = async () => {
          const answer = (await exchange('GET', from, undefined, true)).body
          return () => (JSON.parse(answer.toString()) as { content_base64: string }).content_base64
        }
      } else if (via === 'relay') {
        const relay = await this.endpoint(via, '/download/base64', key, 'GET')
        fetch = async () => {
          const text = (await exchange('GET', relay, undefined, true)).body.toString('base64')
          return () => text
        }
      } else {
        // direct: GetObject with the SDK, then encode in the client
        fetch = async () => {
          const out = await this.s3.send(new GetObjectCommand({ Bucket: this.backend.bucket, Key: key }))
          const chunks: Buffer[] = []
          for await (const chunk of out.Body as AsyncIterable<Buffer>) chunks.push(chunk)
          const text = Buffer.concat(chunks).toString('base64')
          return () => text
        }
      }
      const answers: Array<() => string> = []
      return {
        run: async () => { for (let i = 0; i < repeats; i++) answers.push(await fetch()) },
        after: async () => {
          for (const text of answers) if (text() !== expected) throw new Error(`${via} base64 differs from the object's`)
        }
      }
    })
    row.peakRss = await this.stopService()
    await this.remove(key)
    return row
  }

  async smallCase (op: 'upload' | 'download'): Promise<SmallRow> {
    const n = settings.smallConnections
    const body = Buffer.alloc(settings.smallBytes, 7)
    const keys = Array.from({ length: n }, (_, i) => `bench/small/${op}-${i}.bin`)
    if (op === 'download') for (const key of keys) await this.seed(key, settings.smallBytes)
    const method = op === 'upload' ? 'PUT' : 'GET'
    const signed = await Promise.all(keys.map(async (key) => await this.presign(key, method)))
    await this.startService()
    const load = async (via: Via, seconds: number): Promise<LoadResult> =>
      await hammer(via === 'service' ? this.serviceUrl : via === 'direct' ? this.backend.endpoint : this.relayUrl, n, seconds, (worker) => {
        const withBody = op === 'upload' ? { body, headers: { 'content-type': 'application/octet-stream' } } : { headers: {} }
        if (via === 'service') {
          return { method: op === 'upload' ? 'POST' : 'GET', path: `/${op}/file?s3_key=${encodeURIComponent(keys[worker]!)}`, ...withBody, headers: { ...withBody.headers, 'x-api-key': API_KEY } }
        }
        if (via === 'relay') return { method, path: '/', ...withBody, headers: { ...withBody.headers, 'x-target': signed[worker]! } }
        if (via === 'sdk') return { method, path: '/', ...withBody, headers: { ...withBody.headers, 'x-sdk-key': keys[worker]! } }
        const url = new URL(signed[worker]!)
        return { method, path: url.pathname + url.search, ...withBody }
      })
    // untimed warm-up each way, as long as a round: a fresh service needs
    // ~10 s of this load before V8 has optimised its request path (1st 6 s:
    // 3.1 ms of CPU per request, 3rd: 1.0 ms), which a long-running service
    // pays once
    for (const via of VIAS) await load(via, settings.smallSeconds)
    process.stdout.write('w')
    const results: Record<Via, Array<LoadResult & Sample>> = { service: [], relay: [], sdk: [], direct: [], parts: [] }
    for (let round = 0; round < settings.rounds; round++) {
      for (let i = 0; i < VIAS.length; i++) {
        const via = VIAS[(i + round) % VIAS.length]!
        let result: LoadResult | undefined
        const sample = await this.timed(via, async () => { result = await load(via, settings.smallSeconds) })
        results[via].push({ ...result!, ...sample })
        process.stdout.write('.')
      }
    }
    process.stdout.write('\n')
    const peak = await this.stopService()
    for (const key of keys) await this.remove(key).catch(() => {})
    return { name: `${settings.smallBytes / 1024} KiB ${op}s, ${n} connections, ${settings.smallSeconds} s`, results, peakRss: peak }
  }

  /**
   * Chunked uploads through a service with other part settings, beside the
   * relay: what a body of unknown length gains from more memory per upload.
   */
  async sweepCase (partMiB: number, concurrency: number): Promise<SweepRow> {
    const row = await this.uploadCase('chunked', {
      name: `chunked ${settings.bigBytes / MiB} MiB, ${partMiB} MiB × ${concurrency}`,
      env: { UPLOAD_PART_SIZE_MIB: String(partMiB), UPLOAD_PART_CONCURRENCY: String(concurrency) },
      vias: ['service', 'relay'],
      parts: { partMiB, concurrency }
    })
    return { partMiB, concurrency, bufferMiB: partMiB * concurrency, row }
  }

  /** peak RSS of a fresh service for `count` concurrent uploads of `size` (base64: JSON bodies to /upload/base64) */
  async memoryCase (size: number, mode: UploadMode | 'base64', count = 1): Promise<MemoryRow> {
    const service = await this.startService()
    await sleep(1000)
    const idle = peakRss(service.pid)
    const keys = Array.from({ length: count }, (_, i) => `bench/memory-${i}.bin`)
    const t0 = process.hrtime.bigint()
    await Promise.all(keys.map(async (key) => {
      const answer = mode === 'base64'
        ? await exchange('POST', { url: `${this.serviceUrl}/upload/base64`, headers: { 'x-api-key': API_KEY } }, base64Body(size, key), true)
        : await exchange('POST', this.serviceEndpoint('/upload/file', key), uploadBody(size, mode), true)
      if (answer.status !== 201) throw new Error(`memory upload answered ${answer.status}: ${answer.body.toString().slice(0, 300)}`)
      if (await this.sizeOf(key) !== size) throw new Error(`memory upload of ${key} stored the wrong size`)
    }))
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const peak = (await this.stopService())!
    for (const key of keys) await this.remove(key)
    process.stdout.write('.')
    return { name: `${count > 1 ? `${count} × ` : ''}${size / MiB} MiB upload, ${mode === 'length' ? 'Content-Length' : mode === 'base64' ? 'base64 JSON' : mode}`, size, count, mode, idleRss: idle, peakRss: peak, seconds }
  }

  /**
   * What a Dify workflow does to the service: `connections` HTTP nodes at
   * once, each uploading a file variable as form-data (its one part, the
   * form's last) one after another, then downloading it; beside the relay
   * (the same form body piped to a presigned PUT, and a presigned GET back).
   * A fresh service per connection count: its peak RSS is that load's.
   */
  async difyCase (connections: number): Promise<DifyRow[]> {
    const rows: DifyRow[] = []
    await this.startService()
    const keys = (via: Via, size: number): string[] => Array.from({ length: connections }, (_, i) => `bench/dify/${via}/${size}-${i}.bin`)
    for (const mib of settings.difySizesMiB) {
      const size = mib * MiB
      const form = formBody(size)
      const names = keys('service', size)
      const relayNames = keys('relay', size)
      const puts = await Promise.all(relayNames.map(async (key) => await this.presign(key, 'PUT')))
      const gets = await Promise.all(relayNames.map(async (key) => await this.presign(key, 'GET')))
      const upload = (via: Via, seconds: number): Promise<LoadResult> => hammer(via === 'service' ? this.serviceUrl : this.relayUrl, connections, seconds, (worker) => via === 'service'
        ? { method: 'POST', path: `/upload/file?s3_key=${encodeURIComponent(names[worker]!)}`, body: form.body, headers: { ...form.headers, 'x-api-key': API_KEY } }
        : { method: 'PUT', path: '/', body: form.body, headers: { ...form.headers, 'x-target': puts[worker]! } },
      (status, head) => via === 'service' ? status === 201 && head.includes(`"size":${size}`) : status === 200)
      const download = (via: Via, seconds: number): Promise<LoadResult> => hammer(via === 'service' ? this.serviceUrl : this.relayUrl, connections, seconds, (worker) => via === 'service'
        ? { method: 'GET', path: `/download/file?s3_key=${encodeURIComponent(names[worker]!)}`, headers: { 'x-api-key': API_KEY } }
        : { method: 'GET', path: '/', headers: { 'x-target': gets[worker]! } },
      // the relay stored the form's framing too: its objects are that much longer
      (status, _head, bytes) => status === 200 && bytes === (via === 'service' ? size : form.body.length))
      for (const [op, load] of [['upload', upload], ['download', download]] as const) {
        // untimed, shorter: V8 warms up on this load, the relay too
        for (const via of ['service', 'relay'] as const) await load(via, Math.max(2, settings.difySeconds / 2))
        // the relay's downloads read what the relay's uploads stored; the service's, the service's
        const results: DifyRow['results'] = { service: [], relay: [] }
        for (let round = 0; round < settings.rounds; round++) {
          for (const via of (round % 2 === 0 ? ['service', 'relay'] : ['relay', 'service']) as Array<'service' | 'relay'>) {
            let result: LoadResult | undefined
            const sample = await this.timed(via, async () => { result = await load(via, settings.difySeconds) })
            results[via].push({ ...result!, ...sample })
            process.stdout.write('.')
          }
        }
        rows.push({ name: `Dify: ${connections} at once, ${mib} MiB ${op === 'upload' ? 'form-data uploads' : 'downloads'}, ${settings.difySeconds} s`, op, size, connections, results, peakRss: undefined })
      }
      for (const key of [...names, ...relayNames]) await this.remove(key).catch(() => {})
    }
    const peak = await this.stopService()
    for (const row of rows) row.peakRss = peak
    process.stdout.write('\n')
    return rows
  }
}

async function main (): Promise<void> {
  const started = new Date()
  console.log(`bench: backend ${settings.backend}, ${settings.rounds} rounds, ${settings.bigBytes / MiB} MiB transfers, cases ${[...settings.cases].join(', ')}`)
  const backend = await startBackend(settings.backend)
  const children: Array<{ stop: () => Promise<void> }> = [backend]
  const stopAll = async (): Promise<void> => { for (const child of children.reverse()) await child.stop().catch(() => {}) }
  process.once('SIGINT', () => { stopAll().finally(() => process.exit(130)).catch(() => {}) })
  try {
    // e.g. BENCH_RELAY_NODE_ARGS='--max-semi-space-size=1': the relay and the SDK hop under the service's V8 settings
    const relayArgs = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '')
    const relay = await startChild('relay', [...relayArgs, '--import', 'tsx', join(root, 'bench/relay.ts')], {
      ...process.env,
      BENCH_RELAY_S3_ENDPOINT: backend.endpoint,
      BENCH_RELAY_ACCESS_KEY: backend.accessKeyId,
      BENCH_RELAY_SECRET_KEY: backend.secretAccessKey,
      BENCH_RELAY_BUCKET: backend.bucket
    })
    children.push(relay)
    const bench = new Bench(backend, relay)
    children.push({ stop: async () => { await bench.stopService() } })
    await bench.s3.send(new CreateBucketCommand({ Bucket: backend.bucket })).catch((err: Error) => {
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes(err.name)) throw err
    })

    const throughput: ThroughputRow[] = []
    const small: SmallRow[] = []
    const memory: MemoryRow[] = []
    const sweep: SweepRow[] = []
    const dify: DifyRow[] = []
    // a case that throws is reported as failed; the others still run and are written
    const failures: Array<{ case: string, error: string }> = []
    const attempt = async (name: string, run: () => Promise<void>): Promise<void> => {
      try {
        await run()
      } catch (err) {
        console.error(`\nbench: ${name} failed: ${(err as Error).stack ?? String(err)}`)
        failures.push({ case: name, error: (err as Error).message })
        await bench.stopService().catch(() => {})
      }
    }
    if (settings.cases.has('upload')) {
      for (const mode of ['chunked', 'length', 'multipart'] as const) if (settings.uploads.has(mode)) await attempt(`upload ${mode}`, async () => { throughput.push(await bench.uploadCase(mode)) })
      // a Dify-sized file as form-data, its length guessed (s3/guessed.ts): 16 back to back per sample
      if (settings.uploads.has('form15')) await attempt('upload 15 MiB form-data', async () => { throughput.push(await bench.uploadCase('multipart', { size: 15 * MiB, repeats: 16 })) })
      // the same form, its length guessed: one PUT, the whole file held in memory until it ends (API.md, UPLOAD_GUESS_MAX_MIB)
      if (settings.uploads.has('formguess')) {
        const mib = String(Math.ceil(settings.bigBytes / MiB) + 1)
        await attempt('upload form-data, UPLOAD_GUESS_MAX_MIB raised', async () => {
          throughput.push(await bench.uploadCase('multipart', { name: `upload ${settings.bigBytes / MiB} MiB, multipart/form-data, UPLOAD_GUESS_MAX_MIB=${mib} (held in memory)`, env: { UPLOAD_GUESS_MAX_MIB: mib, UPLOAD_GUESS_MIB: mib }, size: settings.bigBytes, vias: ['service', 'relay'] }))
        })
      }
    }
    if (settings.cases.has('download')) await attempt('download', async () => { throughput.push(await bench.downloadCase()) })
    if (settings.cases.has('base64')) await attempt('base64', async () => { throughput.push(await bench.base64Case()) })
    if (settings.cases.has('small')) for (const op of ['upload', 'download'] as const) await attempt(`small ${op}`, async () => { small.push(await bench.smallCase(op)) })
    if (settings.cases.has('memory')) {
      for (const mib of settings.memorySizesMiB) for (const mode of ['chunked', 'length'] as const) await attempt(`memory ${mib} MiB ${mode}`, async () => { memory.push(await bench.memoryCase(mib * MiB, mode)) })
      for (const mode of ['chunked', 'length'] as const) await attempt(`memory ${settings.concurrent} x ${settings.concurrentMiB} MiB ${mode}`, async () => { memory.push(await bench.memoryCase(settings.concurrentMiB * MiB, mode, settings.concurrent)) })
      const [single, each] = settings.base64UploadMiB
      if (single !== undefined) await attempt(`memory ${single} MiB base64`, async () => { memory.push(await bench.memoryCase(single * MiB, 'base64')) })
      if (each !== undefined) await attempt(`memory ${settings.concurrent} x ${each} MiB base64`, async () => { memory.push(await bench.memoryCase(each * MiB, 'base64', settings.concurrent)) })
      process.stdout.write('\n')
    }
    if (settings.cases.has('dify')) for (const connections of settings.difyConnections) await attempt(`dify ${connections}`, async () => { dify.push(...await bench.difyCase(connections)) })
    if (settings.cases.has('sweep')) for (const { partMiB, concurrency } of settings.sweep) await attempt(`sweep ${partMiB}x${concurrency}`, async () => { sweep.push(await bench.sweepCase(partMiB, concurrency)) })

    const report: Report = {
      date: started.toISOString(),
      seconds: Math.round((Date.now() - started.getTime()) / 1000),
      command: process.env.BENCH_S3 === undefined ? 'npm run bench' : `BENCH_S3=${process.env.BENCH_S3} npm run bench`,
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 1024 ** 3), kernel: release(), node: process.version },
      backend: backend.describe,
      settings: { ...settings, cases: [...settings.cases], uploads: [...settings.uploads] },
      throughput,
      small,
      memory,
      dify,
      sweep,
      ...(failures.length > 0 ? { failures } : {}),
      targets: []
    }
    report.targets = evaluate(report)
    printReport(report)
    const dir = join(root, 'bench/results')
    await mkdir(dir, { recursive: true })
    for (const name of ['latest.json', `${settings.backend}.json`]) {
      await writeFile(join(dir, `${name}.tmp`), JSON.stringify(report, null, 2) + '\n')
      await rename(join(dir, `${name}.tmp`), join(dir, name))
    }
    console.log(`results: bench/results/latest.json and bench/results/${settings.backend}.json (${report.seconds} s)`)
    if (failures.length > 0) {
      console.error(`bench: ${failures.length} case(s) failed: ${failures.map((f) => f.case).join(', ')}`)
      process.exitCode = 1
    }
  } finally {
    await stopAll()
  }
}

await main()

// The bare relay: the floor any Node hop pays on this machine. It pipes a
// request body to the presigned URL named in X-Target (a PUT, with the length
// from Content-Length or, for chunked bodies, X-Content-Length) and pipes a
// presigned GET back. No parsing, no hashing, no logging.
//
// The same process is also the **SDK hop** (X-Sdk-Key instead of X-Target):
// the same pipe, but through the AWS SDK (PutObject / GetObject with the
// service's client settings) and, for uploads, SHA-256 of every byte, as the
// contract makes the service do. It is the floor of any hop built on the
// SDK the conventions name: what the service pays beyond it is its own.
// With X-Encode: base64 a GET through it answers {"content_base64": "..."}
// encoded on the way, the plainest way (each chunk with the 0–2 bytes left
// over from the one before): the floor of a hop that answers base64.
//
// And it is the **relay in parts** (X-Parts-Key, X-Part-Size,
// X-Part-Concurrency): a body of unknown length hashed with SHA-256, as the
// contract makes the service do, and cut into the parts of a multipart
// upload, each copied into a reused buffer and PUT to its own presigned
// UploadPart URL, that many at once; nothing else (no retries, no logging).
// It is the floor of any Node hop that must store a body of unknown length
// at those part settings.
import { createHash } from 'node:crypto'
import http from 'node:http'
import { Transform, type Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type CompletedPart,
  type S3Client
} from '@aws-sdk/client-s3'
import { SignatureV4 } from '@smithy/signature-v4'
import { encodeKey, NodeSha256 } from '../src/s3/signed.js'
import { benchS3Client } from './s3.js'

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

const bucket = process.env.BENCH_RELAY_BUCKET ?? 'bench'
const endpoint = process.env.BENCH_RELAY_S3_ENDPOINT
const credentials = { accessKeyId: process.env.BENCH_RELAY_ACCESS_KEY ?? '', secretAccessKey: process.env.BENCH_RELAY_SECRET_KEY ?? '' }
const s3 = endpoint === undefined ? undefined : benchS3Client(endpoint, credentials.accessKeyId, credentials.secretAccessKey)
const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials, sha256: NodeSha256, uriEscapePath: false })

function bodyLength (req: http.IncomingMessage): string | undefined {
  const length = req.headers['content-length'] ?? req.headers['x-content-length']
  return typeof length === 'string' ? length : undefined
}

function bare (req: http.IncomingMessage, res: http.ServerResponse, target: string): void {
  const length = bodyLength(req)
  const upstream = http.request(target, {
    method: req.method === 'GET' ? 'GET' : 'PUT',
    agent,
    headers: length !== undefined ? { 'content-length': length } : {}
  }, (answer) => {
    const headers: http.OutgoingHttpHeaders = { 'content-type': answer.headers['content-type'] ?? 'application/octet-stream' }
    if (answer.headers['content-length'] !== undefined) headers['content-length'] = answer.headers['content-length']
    res.writeHead(answer.statusCode ?? 502, headers)
    answer.pipe(res)
  })
  upstream.on('error', () => { res.destroy() })
  req.pipe(upstream)
}

async function sdk (client: S3Client, req: http.IncomingMessage, res: http.ServerResponse, key: string): Promise<void> {
  if (req.method === 'GET') {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    if (req.headers['x-encode'] === 'base64') {
      const head = '{"content_base64":"'
      const length = Buffer.byteLength(head) + Math.ceil((out.ContentLength ?? 0) / 3) * 4 + 2
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(length) })
      res.write(head)
      let rest: Buffer = Buffer.alloc(0)
      for await (const chunk of out.Body as AsyncIterable<Buffer>) {
        const whole = rest.length === 0 ? chunk : Buffer.concat([rest, chunk])
        const cut = whole.length - whole.length % 3
        rest = whole.subarray(cut)
        if (!res.write(whole.toString('base64', 0, cut))) await new Promise((resolve) => res.once('drain', resolve))
      }
      res.end(rest.toString('base64') + '"}')
      return
    }
    res.writeHead(200, { 'content-type': out.ContentType ?? 'application/octet-stream', 'content-length': String(out.ContentLength ?? 0) })
    ;(out.Body as Readable).pipe(res)
    return
  }
  const hash = createHash('sha256')
  const hashed = req.pipe(new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      callback(null, chunk)
    }
  }))
  const out = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: hashed, ContentLength: Number(bodyLength(req) ?? 0) }))
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ etag: out.ETag, sha256: hash.digest('hex') }))
}

/** PUT `data` to a presigned UploadPart URL (path-style, as the bench's client addresses S3) */
async function putPart (base: URL, key: string, uploadId: string, partNumber: number, data: Buffer): Promise<string> {
  const path = `${base.pathname.replace(/\/$/, '')}/${bucket}/${encodeKey(key)}`
  const signed = await signer.presign({
    method: 'PUT',
    protocol: base.protocol,
    hostname: base.hostname,
    port: Number(base.port),
    path,
    query: { partNumber: String(partNumber), uploadId },
    // S3 takes a presigned URL's payload as unsigned
    headers: { host: base.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }
  }, { expiresIn: 3600 })
  const query = Object.entries(signed.query ?? {}).map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`).join('&')
  return await new Promise((resolve, reject) => {
    const upstream = http.request(`${base.origin}${path}?${query}`, { method: 'PUT', agent, headers: { 'content-length': String(data.length) } }, (answer) => {
      answer.resume()
      answer.on('end', () => { answer.statusCode === 200 ? resolve(answer.headers.etag ?? '') : reject(new Error(`UploadPart answered ${answer.statusCode ?? 0}`)) })
    })
    upstream.on('error', reject)
    upstream.end(data)
  })
}

async function inParts (client: S3Client, req: http.IncomingMessage, res: http.ServerResponse, key: string, partSize: number, concurrency: number): Promise<void> {
  const { UploadId: uploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
  const base = new URL(endpoint ?? '')
  const parts: CompletedPart[] = []
  const inFlight = new Set<Promise<void>>()
  const free: Buffer[] = []
  let sent = 0
  let failure: unknown
  const send = (data: Buffer, bytes: number): void => {
    const number = ++sent
    const part: Promise<void> = putPart(base, key, uploadId ?? '', number, data.subarray(0, bytes)).then((etag) => {
      parts.push({ PartNumber: number, ETag: etag })
      free.push(data)
    }, (err: unknown) => { failure ??= err }).finally(() => { inFlight.delete(part) })
    inFlight.add(part)
  }
  const hash = createHash('sha256')
  let buffer: Buffer = Buffer.allocUnsafeSlow(partSize)
  let filled = 0
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      hash.update(chunk)
      for (let offset = 0; offset < chunk.length;) {
        const copied = chunk.copy(buffer, filled, offset)
        filled += copied
        offset += copied
        if (filled < partSize) continue
        send(buffer, partSize)
        while (inFlight.size >= concurrency) await Promise.race(inFlight)
        if (failure !== undefined) throw failure
        buffer = free.pop() ?? Buffer.allocUnsafeSlow(partSize)
        filled = 0
      }
    }
    if (filled > 0) send(buffer, filled)
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))
    const out = await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ etag: out.ETag, sha256: hash.digest('hex') }))
  } catch (err) {
    await Promise.allSettled(inFlight)
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => {})
    throw err
  }
}

const server = http.createServer((req, res) => {
  const target = req.headers['x-target']
  const sdkKey = req.headers['x-sdk-key']
  const partsKey = req.headers['x-parts-key']
  const failed = (err: unknown): void => {
    if (res.headersSent) res.destroy()
    else res.writeHead(502).end(String(err))
  }
  if (typeof target === 'string') {
    bare(req, res, target)
  } else if (typeof sdkKey === 'string' && s3 !== undefined) {
    sdk(s3, req, res, sdkKey).catch(failed)
  } else if (typeof partsKey === 'string' && s3 !== undefined) {
    inParts(s3, req, res, partsKey, Number(req.headers['x-part-size']), Number(req.headers['x-part-concurrency'])).catch(failed)
  } else {
    res.writeHead(400).end('X-Target (or X-Sdk-Key or X-Parts-Key, with BENCH_RELAY_S3_ENDPOINT set) missing')
  }
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address()
  if (address !== null && typeof address === 'object') console.log(`listening ${address.port}`)
})
process.on('SIGTERM', () => { s3?.destroy(); server.close(); server.closeAllConnections() })

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
import { createHash } from 'node:crypto'
import http from 'node:http'
import { Transform, type Readable } from 'node:stream'
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { benchS3Client } from './s3.js'

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

const bucket = process.env.BENCH_RELAY_BUCKET ?? 'bench'
const s3 = process.env.BENCH_RELAY_S3_ENDPOINT === undefined
  ? undefined
  : benchS3Client(process.env.BENCH_RELAY_S3_ENDPOINT, process.env.BENCH_RELAY_ACCESS_KEY ?? '', process.env.BENCH_RELAY_SECRET_KEY ?? '')

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

const server = http.createServer((req, res) => {
  const target = req.headers['x-target']
  const sdkKey = req.headers['x-sdk-key']
  if (typeof target === 'string') {
    bare(req, res, target)
  } else if (typeof sdkKey === 'string' && s3 !== undefined) {
    sdk(s3, req, res, sdkKey).catch((err: unknown) => {
      if (res.headersSent) res.destroy()
      else res.writeHead(502).end(String(err))
    })
  } else {
    res.writeHead(400).end('X-Target (or X-Sdk-Key, with BENCH_RELAY_S3_ENDPOINT set) missing')
  }
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address()
  if (address !== null && typeof address === 'object') console.log(`listening ${address.port}`)
})
process.on('SIGTERM', () => { s3?.destroy(); server.close(); server.closeAllConnections() })

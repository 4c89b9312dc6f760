// The embedded development S3 (s3rver, a devDependency): started when no
// S3_ENDPOINT is configured outside production. Never used in production.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

export interface EmbeddedS3 {
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  close: () => Promise<void>
}

export interface EmbeddedS3Options {
  directory: string
  buckets: string[]
  host?: string
  port?: number
  /** wipe the directory on close (tests) */
  resetOnClose?: boolean
}

export async function startEmbeddedS3 (options: EmbeddedS3Options): Promise<EmbeddedS3> {
  let S3rver: typeof import('s3rver').default
  try {
    S3rver = (await import('s3rver')).default
  } catch (err) {
    throw new Error('The embedded development S3 needs the s3rver devDependency (run `npm ci`), or set S3_ENDPOINT to use a real S3 server', { cause: err })
  }
  mkdirSync(options.directory, { recursive: true })
  const server = new S3rver({
    address: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    resetOnClose: options.resetOnClose ?? false,
    configureBuckets: options.buckets.map((name) => ({ name }))
  })
  server.middleware.unshift(multipartUploadsMiddleware(options.directory))
  server.middleware.unshift(listObjectsV2Middleware(server.store))
  server.middleware.unshift(keysAndRangesMiddleware(server.store))
  server.store.getObject = oneByteRanges(server.store.getObject.bind(server.store), server.store)
  const { default: S3Error } = await import('s3rver/lib/models/error.js')
  server.store.putPart = partOfLiveUpload(server.store, (uploadId) => new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId }))
  server.store.putObject = atomicPutObject(server.store.putObject.bind(server.store), await mkdtemp(join(tmpdir(), 's3rver-spool-')))
  const { address, port } = await server.run()
  const host = address.includes(':') ? `[${address}]` : address
  return {
    endpoint: `http://${host}:${port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    close: async () => {
      // its own close() waits for keep-alive connections to time out (5 s):
      // by the time it is closed, nothing of ours is still talking to it
      const closed = server.close()
      server.httpServer?.closeAllConnections()
      await closed
    }
  }
}

// s3rver 3.7 lacks AbortMultipartUpload (it answers 405 and keeps the parts on
// disk), ListMultipartUploads and ListParts. They are served here from its own layout,
// <directory>/<bucket>/._S3rver_uploads/<uploadId>/{key,<part>…}, so that an
// aborted upload leaves nothing behind in development storage either, and the
// tests can check that on s3rver as they do on Ceph.
interface KoaContext {
  method: string
  path: string
  query: Record<string, string | string[] | undefined>
  headers: Record<string, string | string[] | undefined>
  status: number
  body: unknown
  type: string
}

const xml = (text: string): string => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)

/** answer as S3 does: an XML <Error> with its code, message and detail elements */
function s3Error (ctx: KoaContext, status: number, code: string, message: string, detail: Record<string, string> = {}): void {
  ctx.status = status
  ctx.type = 'application/xml'
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xml(message)}</Message>` +
    Object.entries(detail).map(([name, value]) => `<${name}>${xml(value)}</${name}>`).join('') + '</Error>'
}

function multipartUploadsMiddleware (directory: string) {
  const uploadsDir = (bucket: string): string => join(directory, bucket, '._S3rver_uploads')
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const [bucket = '', ...keyParts] = ctx.path.replace(/^\//, '').split('/')
    const uploadId = ctx.query.uploadId
    if (ctx.method === 'DELETE' && typeof uploadId === 'string' && keyParts.length > 0 && /^[0-9a-f]+$/.test(uploadId)) {
      const dir = join(uploadsDir(bucket), uploadId)
      const exists = await stat(dir).then(() => true, () => false)
      await rm(dir, { recursive: true, force: true })
      if (exists) ctx.status = 204
      else s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId })
      return
    }
    if (ctx.method === 'GET' && typeof uploadId === 'string' && keyParts.length > 0 && /^[0-9a-f]+$/.test(uploadId)) {
      const dir = join(uploadsDir(bucket), uploadId)
      const names = await readdir(dir).catch(() => undefined)
      if (names === undefined) {
        s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId })
        return
      }
      const parts: string[] = []
      for (const name of names.filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b))) {
        const file = join(dir, name)
        const info = await stat(file)
        const digest = createHash('md5')
        for await (const chunk of createReadStream(file)) digest.update(chunk as Buffer)
        parts.push(`<Part><PartNumber>${name}</PartNumber><LastModified>${info.mtime.toISOString()}</LastModified><ETag>"${digest.digest('hex')}"</ETag><Size>${info.size}</Size></Part>`)
      }
      ctx.status = 200
      ctx.type = 'application/xml'
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${xml(bucket)}</Bucket><Key>${xml(keyParts.join('/'))}</Key><UploadId>${uploadId}</UploadId><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`
      return
    }
    if (ctx.method === 'GET' && keyParts.join('') === '' && 'uploads' in ctx.query) {
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : ''
      const uploads: string[] = []
      for (const id of await readdir(uploadsDir(bucket)).catch(() => [] as string[])) {
        const key = await readFile(join(uploadsDir(bucket), id, 'key'), 'utf8').catch(() => undefined)
        if (key === undefined || !key.startsWith(prefix)) continue
        const initiated = (await stat(join(uploadsDir(bucket), id))).birthtime.toISOString()
        uploads.push(`<Upload><Key>${xml(key)}</Key><UploadId>${id}</UploadId><Initiated>${initiated}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`)
      }
      ctx.status = 200
      ctx.type = 'application/xml'
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${xml(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xml(prefix)}</Prefix>` +
        `<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`
      return
    }
    await next()
  }
}

// s3rver 3.7's ListObjectsV2 breaks two ways: its continuation tokens are
// DES-encrypted, which OpenSSL 3 (Node 17+) refuses, so a second page answers
// 500; and with a delimiter it never descends into a folder whose name holds
// the delimiter below the prefix, so "c/" of "c/d/3.txt" is never reported.
// Served here from its store's plain listing (every key under the prefix),
// sorted, grouped and paged as S3 does; the token is the last entry answered.
interface StoredObject { key: string, size: number, lastModifiedDate: Date, metadata: Record<string, string> }
interface ListingStore { listObjects: (bucket: string, options: { prefix?: string, maxKeys?: number }) => Promise<{ objects: StoredObject[] }> }

function listObjectsV2Middleware (store: ListingStore) {
  const one = (value: string | string[] | undefined): string => (Array.isArray(value) ? value[0] : value) ?? ''
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const bucket = ctx.path.replace(/^\/+|\/+$/g, '')
    if (ctx.method !== 'GET' || bucket === '' || bucket.includes('/') || one(ctx.query['list-type']) !== '2') return await next()
    const prefix = one(ctx.query.prefix)
    const delimiter = one(ctx.query.delimiter)
    const maxKeys = Math.min(1000, /^\d+$/.test(one(ctx.query['max-keys'])) ? Number(one(ctx.query['max-keys'])) : 1000)
    const token = one(ctx.query['continuation-token'])
    const after = token !== '' ? Buffer.from(token, 'base64url').toString('utf8') : one(ctx.query['start-after'])
    const { objects } = await store.listObjects(bucket, { prefix, maxKeys: Infinity })
    objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const contents: StoredObject[] = []
    const prefixes: string[] = []
    let last = ''
    let truncated = false
    for (const object of objects) {
      if (after !== '' && (object.key <= after || (delimiter !== '' && after.endsWith(delimiter) && object.key.startsWith(after)))) continue
      const at = delimiter !== '' ? object.key.indexOf(delimiter, prefix.length) : -1
      const entry = at === -1 ? object.key : object.key.slice(0, at + delimiter.length)
      if (entry === last) continue
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true
        break
      }
      if (at === -1) contents.push(object)
      else prefixes.push(entry)
      last = entry
    }
    const tag = (name: string, value: string | number): string => `<${name}>${xml(String(value))}</${name}>`
    ctx.status = 200
    ctx.type = 'application/xml'
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      tag('Name', bucket) + tag('Prefix', prefix) + (delimiter !== '' ? tag('Delimiter', delimiter) : '') + tag('MaxKeys', maxKeys) +
      tag('KeyCount', contents.length + prefixes.length) + tag('IsTruncated', String(truncated)) +
      (token !== '' ? tag('ContinuationToken', token) : '') +
      (truncated ? tag('NextContinuationToken', Buffer.from(last, 'utf8').toString('base64url')) : '') +
      contents.map((o) => `<Contents>${tag('Key', o.key)}${tag('LastModified', o.lastModifiedDate.toISOString())}${tag('ETag', o.metadata.etag ?? '')}${tag('Size', o.size)}<StorageClass>STANDARD</StorageClass></Contents>`).join('') +
      prefixes.map((p) => `<CommonPrefixes>${tag('Prefix', p)}</CommonPrefixes>`).join('') +
      '</ListBucketResult>'
  }
}

// s3rver 3.7 writes a part with mkdirp then an unguarded write stream: a part
// that arrives for an upload already aborted recreates the upload's directory,
// or, when the abort lands between the two, throws ENOENT from a stream with no
// error listener, which kills the process. As on S3, a part of an upload that
// does not exist (or no longer does) is refused with NoSuchUpload, and a write
// that fails is an error of that request only.
interface PartStore {
  getResourcePath: (bucket: string, key: string | undefined, resource: string) => string
}
type PutPart = (bucket: string, uploadId: string, partNumber: string | number, content: NodeJS.ReadableStream) => Promise<{ size: number, md5: string }>

function partOfLiveUpload (store: PartStore, noSuchUpload: (uploadId: string) => Error): PutPart {
  return async (bucket, uploadId, partNumber, content) => {
    const dir = join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId)
    const partPath = join(dir, String(partNumber))
    if (!await stat(join(dir, 'key')).then(() => true, () => false)) {
      content.resume()
      throw noSuchUpload(uploadId)
    }
    const md5 = createHash('md5')
    let size = 0
    try {
      await pipeline(content, async function * (chunks: AsyncIterable<Buffer | string>) {
        for await (const chunk of chunks) {
          md5.update(chunk)
          size += chunk.length
          yield chunk
        }
      }, createWriteStream(partPath))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw noSuchUpload(uploadId)
      throw err
    }
    const digest = md5.digest('hex')
    await writeFile(`${partPath}.md5`, digest).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? noSuchUpload(uploadId) : err
    })
    return { size, md5: digest }
  }
}

// s3rver 3.7 writes a PUT straight into the object's file: the earlier object is
// gone as soon as a PUT starts, and a PUT whose client hangs up leaves a
// truncated object. Real S3 stores a PUT only when its whole body has arrived;
// here too: the body is spooled to a temporary file, and only a complete one
// replaces the object.
interface S3rverObject { content: unknown }
type PutObject = (object: S3rverObject) => Promise<unknown>

function atomicPutObject (original: PutObject, spoolDir: string): PutObject {
  let counter = 0
  return async (object) => {
    const { content } = object
    if (!(content instanceof IncomingMessage)) return await original(object)
    const spool = join(spoolDir, `put-${process.pid}-${counter++}`)
    try {
      await pipeline(content, createWriteStream(spool))
      if (!content.complete) throw new Error('the request body ended before Content-Length bytes arrived')
      return await original({ ...object, content: createReadStream(spool) })
    } finally {
      await rm(spool, { force: true })
    }
  }
}

// s3rver 3.7 keeps each object in a file named after its key: a key segment
// longer than the file system's 255 bytes (less the 22 of its
// "._S3rver_metadata.json" suffix) makes it throw ENAMETOOLONG from a stream,
// which kills the process, and "a//b" is stored as "a/b". Those keys are
// refused here as S3 refuses a key it cannot take (400 KeyTooLongError) and
// reported missing on reads. It also reads `bytes=-N` as the first N+1 bytes:
// a suffix range is turned into the absolute range it means.
export const EMBEDDED_SEGMENT_MAX_BYTES = 255 - '._S3rver_metadata.json'.length

/** Why s3rver cannot store `key`, or undefined when it can. */
export function unstorableKey (key: string): string | undefined {
  const segments = key.split('/')
  if (segments.slice(0, -1).some((s) => s === '')) return 'an empty path segment ("a//b" or a leading "/")'
  if (segments.some((s) => s === '.' || s === '..')) return 'a "." or ".." path segment'
  const long = segments.find((s) => Buffer.byteLength(s) > EMBEDDED_SEGMENT_MAX_BYTES)
  if (long !== undefined) return `a path segment of ${Buffer.byteLength(long)} bytes (the development storage keeps each segment as a file name: at most ${EMBEDDED_SEGMENT_MAX_BYTES} bytes)`
  return undefined
}

interface MetadataStore {
  getMetadata: (bucket: string, key: string) => Promise<Record<string, string>>
  getResourcePath: (bucket: string, key: string, resource: string) => string
}

function keysAndRangesMiddleware (store: MetadataStore) {
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const at = ctx.path.indexOf('/', 1)
    if (at === -1 || at === ctx.path.length - 1) return await next()
    let bucket: string
    let key: string
    try {
      bucket = decodeURIComponent(ctx.path.slice(1, at))
      key = decodeURIComponent(ctx.path.slice(at + 1))
    } catch {
      return await next()
    }
    const copySource = ctx.headers['x-amz-copy-source']
    const problem = unstorableKey(key)
    if (problem === undefined && typeof copySource === 'string') {
      let source = ''
      try {
        source = decodeURIComponent(copySource.replace(/\?.*$/, '')).replace(/^\/+/, '')
      } catch {}
      if (unstorableKey(source.slice(source.indexOf('/') + 1)) !== undefined) {
        s3Error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: source })
        return
      }
    }
    if (problem !== undefined) {
      if (ctx.method === 'HEAD') ctx.status = 404
      else if (ctx.method === 'GET') s3Error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: key })
      else if (ctx.method === 'DELETE' && ctx.query.uploadId === undefined) ctx.status = 204
      else s3Error(ctx, 400, 'KeyTooLongError', `The development storage cannot store this key: it has ${problem}.`)
      return
    }
    const range = ctx.headers.range
    const suffix = typeof range === 'string' ? /^bytes=-(\d+)$/.exec(range.trim()) : null
    if (suffix !== null && typeof copySource !== 'string' && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      const metadata = await store.getMetadata(bucket, key).catch(() => undefined)
      if (metadata !== undefined) {
        const size = Number(metadata['content-length'])
        const length = Number(suffix[1])
        // a zero-length suffix is unsatisfiable; a longer one than the object is all of it
        ctx.headers.range = length === 0 || size === 0 ? `bytes=${size}-` : `bytes=${Math.max(0, size - length)}-`
      }
    }
    await next()
  }
}

// s3rver reads the end of a range with `end || Infinity`: `bytes=0-0` answers
// the whole object under a 206. One-byte ranges at 0 are served here.
interface RangedObject { content: NodeJS.ReadableStream & { destroy: () => void } | null, range?: { start: number, end: number }, size: number }
type GetObject = (bucket: string, key: string, options?: { start?: number, end?: number }) => Promise<RangedObject | null>

function oneByteRanges (original: GetObject, store: MetadataStore): GetObject {
  return async (bucket, key, options) => {
    if (options?.end !== 0) return await original(bucket, key, options)
    const object = await original(bucket, key, { ...options, end: undefined })
    if (object?.content == null) return object
    object.content.destroy()
    if ((options.start ?? 0) !== 0) {
      // bytes=N-0 with N > 0: first byte after the last, unsatisfiable
      object.content = null
      object.range = { start: options.start ?? 0, end: 0 }
      return object
    }
    object.content = createReadStream(store.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 })
    object.range = { start: 0, end: 0 }
    return object
  }
}

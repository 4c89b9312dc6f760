// Object I/O against the configured bucket. Routes speak HTTP and call this;
// nothing outside src/s3/ touches the AWS SDK.
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { S3Config } from '../config.js'
import { AppError } from '../errors.js'
import { createAgents, createS3Client, type Agents, type SdkLogger } from './client.js'
import { putGuessed } from './guessed.js'
import { putStaged } from './staged.js'
import { PartBuffers, partSizeFor, uploadStream } from './multipart.js'
import { signedS3For, type SignedS3 } from './signed.js'
import { toAppError } from './errors.js'
import { BucketObjects, MAX_SINGLE_COPY } from './objects.js'
import { DirectUploads } from './direct.js'

/** S3's single PUT limit: larger bodies of known length go multipart. */
const MAX_SINGLE_PUT = 5 * 1024 ** 3
/** the guess buffers kept idle between uploads: room for one file of Dify's limit (15 MiB) */
const IDLE_GUESS_BYTES = 16 * 1024 ** 2
/** the size of the buffers that keep a guessed body */
const GUESS_BUFFER = 1024 ** 2
/** the smallest guessed body staged (staged.ts): S3's smallest part, so that bytes past the guess can follow a copy of it */
const MIN_STAGED = 5 * 1024 ** 2

export interface ObjectInfo {
  size: number
  contentType: string
  etag: string
  lastModified: Date | undefined
}

/**
 * What a read asks S3 for: one `bytes=` range, and the ETag the service has
 * checked the client's conditions against (then a replaced object is 412).
 * The client's own conditional headers are evaluated by the service
 * (src/http/headers.ts) and never sent on.
 */
export interface ReadOptions {
  range?: string | undefined
  ifMatch?: string | undefined
}

export interface ReadResult { status: 200 | 206, info: ObjectInfo, body: Readable, contentLength: number, contentRange: string | undefined }

/** a GetObject's answer, from either path */
interface Fetched {
  body: Readable
  contentLength: number
  contentRange: string | undefined
  contentType: string | undefined
  etag: string | undefined
  lastModified: Date | undefined
}

export interface PutOptions {
  /** bytes the body will have, when known */
  size?: number | undefined
  /** bytes it will probably have, when only that is known (guessed.ts) */
  likelySize?: number | undefined
  /**
   * parts uploading at once when it goes in parts (default UPLOAD_PART_CONCURRENCY):
   * 1 for a body decoded in this process (base64), whose decoding, not S3, sets the pace
   */
  partsInFlight?: number | undefined
  contentType: string
  /** aborting cancels the transfer; nothing is stored */
  signal?: AbortSignal | undefined
}

export class ObjectStore {
  readonly bucket: string
  private readonly config: S3Config
  private readonly agents: Agents
  private readonly client: S3Client
  private readonly presignClient: S3Client
  private readonly timeoutMs: number
  /** parts of a body of unknown length uploading at once (UPLOAD_PART_CONCURRENCY) */
  private readonly partConcurrency: number
  /**
   * their buffers, of UPLOAD_PART_SIZE_MIB (more when MAX_UPLOAD_BYTES needs
   * it); one upload's are kept for the next, and all uploads together hold
   * at most UPLOAD_BUFFER_MIB of them (multipart.ts)
   */
  private readonly partBuffers: PartBuffers
  /** what keeps the bytes of bodies whose length is guessed (UPLOAD_GUESS_MIB; guessed.ts) */
  private readonly guessBuffers: PartBuffers | undefined
  /** the largest body whose length is guessed: all of it is kept until it ends */
  private readonly guessMax: number

  /** list, stat, delete, copy (objects.ts) */
  readonly objects: BucketObjects
  /** presigned POST and presigned multipart, for clients that send bytes to S3 themselves (direct.ts) */
  readonly direct: DirectUploads

  constructor (config: S3Config, logger?: SdkLogger, maxObjectBytes = MAX_SINGLE_PUT, singleCopyMax = MAX_SINGLE_COPY) {
    this.bucket = config.bucket
    this.config = config
    this.timeoutMs = config.timeoutMs
    this.partConcurrency = config.partConcurrency
    const partSize = partSizeFor(maxObjectBytes, config.partSize)
    // at least one buffer, or no upload of unknown length could start
    this.partBuffers = new PartBuffers(partSize, config.partConcurrency, Math.max(1, Math.floor(config.partBufferBytes / partSize)))
    const guessBuffers = Math.floor(config.guessBufferBytes / GUESS_BUFFER)
    // a pool apart from the part buffers: a guess that missed goes on in parts while it holds these
    // (idle, it keeps at most 16 MiB of them: a large guess's buffers go back to the allocator)
    this.guessBuffers = guessBuffers > 0 ? new PartBuffers(GUESS_BUFFER, Math.min(guessBuffers, IDLE_GUESS_BYTES / GUESS_BUFFER), guessBuffers) : undefined
    this.guessMax = Math.min(config.guessMaxBytes, guessBuffers * GUESS_BUFFER)
    this.agents = createAgents(config)
    this.client = createS3Client(config, { agents: this.agents, ...(logger !== undefined ? { logger } : {}) })
    this.presignClient = createS3Client(config, { endpoint: config.publicEndpoint ?? config.endpoint, forPresign: true })
    this.objects = new BucketObjects(this.client, this.bucket, async (what, call) => await this.bounded(what, call), singleCopyMax)
    this.direct = new DirectUploads(this.client, this.presignClient, config, async (what, call) => await this.bounded(what, call))
  }

  destroy (): void {
    this.client.destroy()
    this.presignClient.destroy()
  }

  /**
   * Run a call that has no streamed body under one deadline (retries
   * included): past S3_TIMEOUT_MS it fails as UPSTREAM_TIMEOUT.
   */
  private async bounded<T> (what: string, call: (signal: AbortSignal) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const deadline = AbortSignal.timeout(timeoutMs)
    try {
      return await call(deadline)
    } catch (err) {
      if (deadline.aborted) throw new AppError('UPSTREAM_TIMEOUT', `The S3 server did not answer within ${timeoutMs} ms`, { cause: err })
      throw err
    }
  }

  /** Resolves when the bucket answers; throws the mapped AppError otherwise. */
  async checkBucket (timeoutMs = this.timeoutMs): Promise<void> {
    try {
      await this.bounded(this.bucket, async (abortSignal) => await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }), timeoutMs)
    } catch (err) {
      throw toAppError(err, `bucket ${this.bucket}`)
    }
  }

  /** Create the bucket unless it exists (embedded S3 and tests). */
  async ensureBucket (): Promise<void> {
    try {
      await this.checkBucket()
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((err: unknown) => {
        if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as Error).name)) throw toAppError(err, `bucket ${this.bucket}`)
      })
    }
  }

  /** bodies whose guessed length was right, and wrong (then stored the other way) */
  readonly guesses = { right: 0, wrong: 0 }

  /** writes under way: shutdown waits for them, so that an aborted one still cleans up after itself */
  private readonly writes = new Set<Promise<unknown>>()

  /**
   * Store a body. A known size up to 5 GiB streams as one PutObject; anything
   * else streams through a multipart upload in parts (multipart.ts). To fail a
   * Readable body, destroy it with an error (or abort `signal`): S3 then keeps
   * nothing, and the promise settles only after any multipart upload has been
   * aborted.
   */
  async put (key: string, body: Readable | Buffer, options: PutOptions): Promise<{ etag: string }> {
    const write = this.write(key, body, options)
    this.writes.add(write)
    try {
      return await write
    } finally {
      this.writes.delete(write)
    }
  }

  /** Wait (at most `timeoutMs`) for the writes under way to finish or to finish failing. */
  async settle (timeoutMs: number): Promise<void> {
    if (this.writes.size === 0) return
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    await Promise.race([Promise.allSettled([...this.writes]), deadline])
    clearTimeout(timer)
  }

  /** PutObject, UploadPart and GetObject without the SDK's stack (signed.ts); resolved on the first call that uses them */
  private signedCalls: Promise<SignedS3 | undefined> | undefined

  private async signed (): Promise<SignedS3 | undefined> {
    this.signedCalls ??= signedS3For(this.client, this.bucket, this.config, this.agents).catch(() => undefined)
    return await this.signedCalls
  }

  private async write (key: string, body: Readable | Buffer, options: PutOptions): Promise<{ etag: string }> {
    const { size, contentType, signal, likelySize, partsInFlight } = options
    if (!Buffer.isBuffer(body) && size === undefined && likelySize !== undefined && likelySize > 0) {
      // a guessed length: kept in memory while there is room, else staged when large enough, else in parts
      const buffers = likelySize <= this.guessMax ? this.guessBuffers?.tryTakeMany(Math.ceil(likelySize / GUESS_BUFFER)) : undefined
      if (buffers !== undefined) {
        try {
          const put = async (stream: Readable, bytes: number | undefined): Promise<{ etag: string }> => await this.write(key, stream, { size: bytes, contentType, signal })
          const { etag, guessed } = await putGuessed({ guess: likelySize, buffers, put }, body)
          this.guesses[guessed ? 'right' : 'wrong']++
          return { etag }
        } finally {
          this.guessBuffers?.give(buffers)
        }
      }
      if (likelySize >= MIN_STAGED && likelySize <= MAX_SINGLE_PUT && this.config.stagingPrefix !== '') return await this.putStaged(key, body, likelySize, contentType, signal)
    }
    try {
      if (!Buffer.isBuffer(body) && size !== undefined && size <= MAX_SINGLE_PUT) {
        const direct = await this.signed()
        if (direct !== undefined) {
          const { etag } = await direct.put(key, body, size, contentType, signal)
          return { etag: etag ?? await this.etagOf(key) }
        }
      }
      if (Buffer.isBuffer(body) || (size !== undefined && size <= MAX_SINGLE_PUT)) {
        const out = await this.client.send(new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: size ?? (body as Buffer).length,
          ContentType: contentType
        }), signal !== undefined ? { abortSignal: signal } : {})
        return { etag: out.ETag ?? await this.etagOf(key) }
      }
      return await this.putMultipart(key, body, contentType, signal, partsInFlight ?? this.partConcurrency)
    } catch (err) {
      throw toAppError(signal?.aborted === true ? signal.reason : err, key)
    }
  }

  /** a guessed body too large to keep, or with no room left to keep it: staged, then copied into place (staged.ts) */
  private async putStaged (key: string, body: Readable, guess: number, contentType: string, signal: AbortSignal | undefined): Promise<{ etag: string }> {
    const staging = `${this.config.stagingPrefix}${randomUUID()}`
    const { etag, guessed } = await putStaged({
      guess,
      put: async (stream, bytes) => await this.write(staging, stream, { size: bytes, contentType, signal }),
      commit: async (length, whole, tail) => {
        signal?.throwIfAborted()
        if (length === 0) return await this.write(key, Buffer.alloc(0), { contentType, signal })
        return await this.objects.place(staging, key, { length, whole, contentType, tail }) ??
          await this.readBack(staging, key, length, contentType, tail, signal)
      },
      discard: async () => { await this.objects.delete(staging).catch(() => {}) }
    }, body)
    this.guesses[guessed ? 'right' : 'wrong']++
    return { etag }
  }

  /** the first `length` bytes of `source`, then `tail`, streamed through the service to `key`: for a store without UploadPartCopy */
  private async readBack (source: string, key: string, length: number, contentType: string, tail: Buffer | undefined, signal: AbortSignal | undefined): Promise<{ etag: string }> {
    const { body } = await this.read(source, { range: `bytes=0-${length - 1}` })
    async function * bytes (): AsyncGenerator<Buffer> {
      yield * body as AsyncIterable<Buffer>
      if (tail !== undefined) yield tail
    }
    return await this.write(key, Readable.from(bytes(), { objectMode: false }), { size: length + (tail?.length ?? 0), contentType, signal })
  }

  private async putMultipart (key: string, body: Readable, contentType: string, signal: AbortSignal | undefined, queueSize: number): Promise<{ etag: string }> {
    const sendPart = (await this.signed())?.putPart
    const { etag } = await uploadStream({ client: this.client, bucket: this.bucket, key, contentType, partSize: this.partBuffers.size, queueSize, signal, sendPart, buffers: this.partBuffers }, body)
    // Ceph answers CompleteMultipartUpload with an empty ETag
    return { etag: etag !== undefined && etag !== '' ? etag : await this.etagOf(key) }
  }

  private async etagOf (key: string): Promise<string> {
    return (await this.head(key)).etag
  }

  async head (key: string): Promise<ObjectInfo> {
    try {
      const out = await this.bounded(key, async (abortSignal) => await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }))
      return {
        size: out.ContentLength ?? 0,
        contentType: out.ContentType ?? 'application/octet-stream',
        etag: out.ETag ?? '',
        lastModified: out.LastModified
      }
    } catch (err) {
      throw toAppError(err, key)
    }
  }

  /**
   * Open an object for reading. `range` must already be a syntactically valid
   * single `bytes=` range. The body streams; its socket stays bounded by the
   * client's idle timeout.
   */
  async read (key: string, options: ReadOptions = {}): Promise<ReadResult> {
    let out: Fetched
    try {
      out = await this.bounded(key, async (abortSignal) => await this.getObject(key, options, abortSignal))
    } catch (err) {
      const mapped = toAppError(err, key)
      if (mapped.code === 'RANGE_NOT_SATISFIABLE') {
        const { size } = await this.head(key)
        throw new AppError('RANGE_NOT_SATISFIABLE', `The range ${options.range ?? ''} is outside the object's ${size} bytes`, { headers: { 'content-range': `bytes */${size}` } })
      }
      throw mapped
    }
    const { contentLength, contentRange } = out
    const total = contentRange !== undefined ? Number(contentRange.split('/')[1]) : contentLength
    return {
      status: contentRange !== undefined ? 206 : 200,
      info: {
        size: Number.isFinite(total) ? total : contentLength,
        contentType: out.contentType ?? 'application/octet-stream',
        etag: out.etag ?? '',
        lastModified: out.lastModified
      },
      body: out.body,
      contentLength,
      contentRange
    }
  }

  /** GetObject, through signed.ts when the store can (the SDK otherwise); an error answer rejects */
  private async getObject (key: string, options: ReadOptions, abortSignal: AbortSignal): Promise<Fetched> {
    const direct = await this.signed()
    if (direct !== undefined) {
      const { headers, body } = await direct.get(key, options, abortSignal)
      const lastModified = headers['last-modified'] !== undefined ? new Date(headers['last-modified']) : undefined
      return {
        body,
        contentLength: Number(headers['content-length'] ?? 0),
        contentRange: headers['content-range'],
        contentType: headers['content-type'],
        etag: headers.etag,
        lastModified: lastModified !== undefined && !Number.isNaN(lastModified.getTime()) ? lastModified : undefined
      }
    }
    const out = await this.client.send(new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Range: options.range,
      IfMatch: options.ifMatch
    }), { abortSignal })
    return {
      body: out.Body as Readable,
      contentLength: out.ContentLength ?? 0,
      contentRange: out.ContentRange,
      contentType: out.ContentType,
      etag: out.ETag,
      lastModified: out.LastModified
    }
  }

  /**
   * A URL signed for S3_PUBLIC_ENDPOINT. A PUT signs the content type and the
   * size when given, so S3 refuses an upload with another.
   */
  async presign (key: string, method: 'GET' | 'PUT', expiresIn: number, contentType?: string, size?: number): Promise<string> {
    const command = method === 'GET'
      ? new GetObjectCommand({ Bucket: this.bucket, Key: key })
      : new PutObjectCommand({ Bucket: this.bucket, Key: key, ...(contentType !== undefined ? { ContentType: contentType } : {}), ...(size !== undefined ? { ContentLength: size } : {}) })
    const signed = [...(contentType !== undefined ? ['content-type'] : []), ...(size !== undefined ? ['content-length'] : [])]
    return await getSignedUrl(this.presignClient, command, {
      expiresIn,
      ...(method === 'PUT' && signed.length > 0 ? { signableHeaders: new Set(signed) } : {})
    })
  }
}

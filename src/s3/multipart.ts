// A body of unknown length, streamed into S3 as a multipart upload in fixed
// parts. Written for this service instead of lib-storage's Upload, which the
// bench showed copying every byte (Buffer.concat per part), sending parts as
// Buffers that the SigV4 signer hashes again (a second SHA-256 of every byte)
// and holding about three parts per upload: 4× the relay's CPU per GiB and
// ~30 MiB per concurrent upload (bench/README.md has the numbers).
//
// Here bytes are copied into `queueSize` part buffers that each upload
// reuses (and hands on to the next upload: PartBuffers), and a part is sent
// from its buffer as UNSIGNED-PAYLOAD (never hashed again: by signed.ts
// without the SDK's stack when the store can, else by the SDK as a stream)
// and retried by us from its buffer (the SDK does not retry streamed bodies). While `queueSize` parts upload, the source is not
// read: memory per upload stays at queueSize × partSize. (Filling one more
// part meanwhile bought no speed on Ceph: the sockets' own buffers keep the
// next part coming.)
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client
} from '@aws-sdk/client-s3'
import { blocks, type Block } from '../transfer/blocks.js'
import { retryable } from './errors.js'

/** S3's smallest part (but the last) is 5 MiB, and an upload has at most 10 000 parts */
const MIN_PART_SIZE = 5 * 1024 ** 2
const MAX_PARTS = 10_000
const PART_ATTEMPTS = 3

/** UploadPart: one part from memory; aborting `signal` cuts it */
export type PartSender = (part: { key: string, uploadId: string, partNumber: number, data: Buffer, signal: AbortSignal }) => Promise<{ etag: string | undefined }>

export interface StreamUpload {
  client: S3Client
  bucket: string
  key: string
  contentType: string
  partSize: number
  /** parts uploading at once while the next one fills */
  queueSize: number
  /** aborting stops reading, cancels the parts in flight and aborts the upload */
  signal?: AbortSignal | undefined
  /** how parts go out; default: the SDK's UploadPart (the store passes signed.ts's) */
  sendPart?: PartSender | undefined
  /** where part buffers come from and go back to; default: fresh ones for this upload */
  buffers?: PartBuffers | undefined
}

/**
 * Part buffers that outlive an upload, and the budget of all uploads' part
 * buffers together. The next upload takes the last one's buffers instead of
 * allocating its own: a buffer lives as long as an upload (seconds), so V8
 * promotes it, and a dropped one waits for a full GC (without reuse,
 * back-to-back uploads each held their own 15 MiB on top of the last
 * upload's: bench 128–135 MiB peaks where one upload peaks at ~115). At most
 * `keep` buffers wait here; more are dropped. At most `limit` buffers are
 * out at once, whatever the number of uploads (UPLOAD_BUFFER_MIB): an upload
 * that finds none waits for one, its socket unread, instead of growing the
 * process (64 concurrent uploads of unknown length held 15 MiB each before).
 */
export class PartBuffers {
  private readonly idle: Buffer[] = []
  private out = 0
  private readonly waiting: Array<() => void> = []

  constructor (readonly size: number, private readonly keep: number, readonly limit = Number.POSITIVE_INFINITY) {
    if (!(limit >= 1)) throw new RangeError(`PartBuffers: room for at least one buffer, not ${limit}`)
  }

  /** a buffer if the budget has room, else undefined */
  tryTake (): Buffer | undefined {
    if (this.out >= this.limit) return undefined
    this.out++
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  /** `count` buffers if the budget has room for all of them, else none */
  tryTakeMany (count: number): Buffer[] | undefined {
    if (this.out + count > this.limit) return undefined
    return Array.from({ length: count }, () => this.tryTake() as Buffer)
  }

  /** resolves once buffers have come back (then tryTake() may succeed; others may race for them) */
  async returned (): Promise<void> {
    await new Promise<void>((resolve) => { this.waiting.push(resolve) })
  }

  /** give back buffers no request uses any more */
  give (buffers: Buffer[]): void {
    for (const buffer of buffers) {
      this.out--
      if (this.idle.length < this.keep) this.idle.push(buffer)
    }
    // everyone waiting looks again (a waiter that went on another way is gone: harmless)
    for (const wake of this.waiting.splice(0)) wake()
  }

  /** buffers waiting for an upload */
  get idleCount (): number {
    return this.idle.length
  }

  /** buffers uploads hold now */
  get inUse (): number {
    return this.out
  }
}

/** The part size for uploads up to `maxBytes`: `preferred`, or larger when 10 000 parts would not hold them. */
export function partSizeFor (maxBytes: number, preferred = MIN_PART_SIZE): number {
  const needed = Math.ceil(maxBytes / MAX_PARTS / 1024 ** 2) * 1024 ** 2
  return Math.max(MIN_PART_SIZE, preferred, needed)
}

/** a part as a stream: the SDK signs a stream as UNSIGNED-PAYLOAD instead of hashing it */
function streamOf (data: Buffer, bytes: number): Readable {
  return Readable.from([data.subarray(0, bytes)], { objectMode: false })
}

/** the SDK's UploadPart, the body streamed */
export function sdkPartSender (client: S3Client, bucket: string): PartSender {
  return async ({ key, uploadId, partNumber, data, signal }) => {
    const out = await client.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: data.length, Body: streamOf(data, data.length)
    }), { abortSignal: signal })
    return { etag: out.ETag }
  }
}

/**
 * Store `body` at `key`. A body shorter than one part is a single PutObject.
 * Resolves with S3's ETag (which may be empty: Ceph answers
 * CompleteMultipartUpload without one). On any failure (the body errors, a
 * part fails, `signal` aborts) it stops reading, waits for the parts in
 * flight to settle, aborts the multipart upload and rejects: S3 keeps nothing.
 */
export async function uploadStream (options: StreamUpload, body: Readable): Promise<{ etag: string | undefined }> {
  const { client, bucket, key, contentType, partSize, queueSize, signal } = options
  const sendOne = options.sendPart ?? sdkPartSender(client, bucket)
  const pool = options.buffers ?? new PartBuffers(partSize, 0)
  if (pool.size !== partSize) throw new Error(`uploadStream: part buffers of ${pool.size} bytes for parts of ${partSize}`)
  /** every buffer this upload took: given back once no part request uses them */
  const taken: Buffer[] = []
  /** this upload's buffers whose part has been sent */
  const free: Buffer[] = []
  /** one of this upload's buffers once its part is sent, else one from the pool's budget, waiting for either */
  const next = async (): Promise<Buffer> => {
    for (;;) {
      if (failure !== undefined) throw failure
      const own = free.pop()
      if (own !== undefined) return own
      const fresh = pool.tryTake()
      if (fresh !== undefined) {
        taken.push(fresh)
        return fresh
      }
      await Promise.race([pool.returned(), ...inFlight, aborted])
    }
  }
  const cancel = new AbortController()
  const aborted = new Promise<void>((resolve) => { cancel.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
  let failure: unknown
  const fail = (err: unknown): void => {
    if (failure !== undefined) return
    failure = err ?? new Error('upload aborted')
    cancel.abort(failure)
    if (!body.destroyed) body.destroy(failure instanceof Error ? failure : new Error(String(failure)))
  }
  const onAbort = (): void => { fail(signal?.reason) }
  if (signal?.aborted === true) onAbort()
  signal?.addEventListener('abort', onAbort, { once: true })

  let uploadId: string | undefined
  const parts: CompletedPart[] = []
  const inFlight = new Set<Promise<void>>()

  const create = async (): Promise<string> => {
    const out = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }), { abortSignal: cancel.signal })
    if (out.UploadId === undefined) throw new Error('CreateMultipartUpload answered without an UploadId')
    return out.UploadId
  }
  const sendPart = async (id: string, number: number, data: Buffer, bytes: number): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await sendOne({ key, uploadId: id, partNumber: number, data: data.subarray(0, bytes), signal: cancel.signal })
        parts.push({ PartNumber: number, ETag: out.etag })
        return
      } catch (err) {
        if (attempt >= PART_ATTEMPTS || cancel.signal.aborted || !retryable(err)) throw err
        await sleep(100 * 2 ** attempt, undefined, { signal: cancel.signal })
      }
    }
  }
  /** `done` runs once the part's request is over, whichever way: then its buffer may be reused */
  const startPart = (id: string, number: number, data: Buffer, bytes: number, done: () => void): void => {
    const part: Promise<void> = sendPart(id, number, data, bytes).then(() => {
      inFlight.delete(part)
      done()
    }, (err: unknown) => {
      inFlight.delete(part)
      fail(err)
    })
    inFlight.add(part)
  }

  try {
    // queueSize part buffers per upload, filled by copying and reused:
    // the chunks die young (holding them instead promoted them to the old
    // generation and cost a mark-compact every few MiB). A fresh buffer's
    // pages are touched only as bytes arrive.
    let partNumber = 0
    /** the short last block, if the body does not end on a part boundary */
    let tail: Block | undefined
    for await (const block of blocks(body, partSize, next)) {
      if (block.bytes < partSize) {
        tail = block
        break
      }
      uploadId ??= await create()
      const full = block.data
      startPart(uploadId, ++partNumber, full, partSize, () => { free.push(full) })
      // backpressure: the source waits while the queue is full
      while (inFlight.size >= queueSize) await Promise.race(inFlight)
      if (failure !== undefined) throw failure
    }
    if (failure !== undefined) throw failure
    if (uploadId === undefined) {
      const bytes = tail?.bytes ?? 0
      const out = await client.send(new PutObjectCommand({
        Bucket: bucket, Key: key, ContentType: contentType, ContentLength: bytes, Body: streamOf(tail?.data ?? Buffer.alloc(0), bytes)
      }), { abortSignal: cancel.signal })
      return { etag: out.ETag }
    }
    if (tail !== undefined) startPart(uploadId, ++partNumber, tail.data, tail.bytes, () => {})
    while (inFlight.size > 0) await Promise.race(inFlight)
    if (failure !== undefined) throw failure
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0))
    const out = await client.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }
    }), { abortSignal: cancel.signal })
    return { etag: out.ETag }
  } catch (err) {
    fail(err)
    await Promise.allSettled([...inFlight])
    if (uploadId !== undefined) {
      // not under `cancel`: this call must go out even though the upload was cancelled
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => {})
    }
    throw failure
  } finally {
    signal?.removeEventListener('abort', onAbort)
    // every part request has settled by now (awaited above on either path)
    pool.give(taken)
  }
}

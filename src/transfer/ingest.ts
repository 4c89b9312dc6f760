// Stream one request body (raw, or a multipart file part) into S3 through an
// UploadGuard, and make every failure leave nothing behind.
import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { AppError } from '../errors.js'
import type { ObjectStore } from '../s3/store.js'
import { readHead, sniffType, SNIFF_BYTES } from './sniff.js'
import { checksumMismatch, UploadGuard } from './upload-guard.js'

export interface IngestOptions {
  store: ObjectStore
  storedKey: string
  /** the bytes to store: the request itself, or a multipart file stream */
  source: Readable
  /** the HTTP request carrying them, watched for a client that hangs up */
  request: IncomingMessage
  /** the exact length when the client declared it */
  size?: number | undefined
  /** otherwise, the length it probably has (a form's file part): tried first, never trusted (s3/guessed.ts) */
  likelySize?: number | undefined
  /** parts at once if it goes in parts (ObjectStore's PutOptions) */
  partsInFlight?: number | undefined
  /** undefined: sniffed from the first bytes (sniff.ts) */
  contentType: string | undefined
  maxBytes: number
  /** the expected SHA-256, or where to read it once the bytes are in */
  sha256?: string | (() => string | undefined) | undefined
  /** the error for a source that breaks mid-way (default: the client hung up) */
  sourceFailure?: (err: Error) => AppError
}

export interface Stored {
  size: number
  sha256: string
  etag: string
  /** the Content-Type stored */
  contentType: string
}

export function clientHungUp (): AppError {
  return new AppError('MISSING_FILE', 'The client closed the connection before the whole body arrived; nothing was stored')
}

export async function ingest (options: IngestOptions): Promise<Stored> {
  const { store, storedKey, source, request, size, likelySize, partsInFlight, contentType, maxBytes, sha256, sourceFailure = clientHungUp } = options
  if (size === 0) {
    source.resume()
    return await storeBuffer(store, storedKey, Buffer.alloc(0), contentType, typeof sha256 === 'function' ? sha256() : sha256)
  }

  const guard = new UploadGuard(maxBytes, sha256)
  const abort = new AbortController()
  let failure: Error | undefined
  const fail = (err: Error): void => {
    if (failure !== undefined) return
    failure = err
    abort.abort(err)
    guard.destroy(err)
  }
  // A client that disconnects mid-body is silent unless someone listens: an
  // IncomingMessage emits 'error' only to listeners, and pipe() adds none.
  const onRequestClose = (): void => { if (!request.complete) fail(clientHungUp()) }
  const onSourceError = (err: Error): void => { fail(err instanceof AppError ? err : sourceFailure(err)) }
  guard.on('error', fail)
  request.on('close', onRequestClose)
  request.on('error', onSourceError)
  if (source !== request) source.on('error', onSourceError)
  // a part that failed before anyone listened (its form broke) has already
  // emitted its error: a stream destroyed before it is piped never ends
  if (source !== request && source.destroyed && !source.readableEnded) {
    const reason = source.errored ?? new Error('the part was cut short')
    fail(reason instanceof AppError ? reason : sourceFailure(reason))
  }
  // pipe, not pipeline: a guard error must not destroy the request, or the
  // client would never read our JSON answer
  try {
    let type = contentType
    if (type === undefined) {
      // nothing named a type: the first bytes decide, written on ahead of the rest
      const head = await readHead(source, SNIFF_BYTES, abort.signal)
      type = await sniffType(head)
      if (source.readableEnded) guard.end(head)
      else if (head.length > 0) guard.write(head)
    }
    if (!source.readableEnded) source.pipe(guard)
    const { etag } = await store.put(storedKey, guard, { size, likelySize, partsInFlight, contentType: type, signal: abort.signal })
    if (failure !== undefined) throw failure
    if (guard.sha256 === undefined) throw new Error('ingest: the upload completed before its body ended')
    return { size: guard.bytes, sha256: guard.sha256, etag, contentType: type }
  } catch (err) {
    throw failure ?? err
  } finally {
    request.off('close', onRequestClose)
    request.off('error', onSourceError)
    source.off('error', onSourceError)
    source.unpipe(guard)
    // let the rest of an unwanted body drain so that the client reads our answer
    if (!source.readableEnded) source.resume()
  }
}

/** Store a body already in memory (an empty one, decoded base64), checking `sha256` first. */
export async function storeBuffer (store: ObjectStore, storedKey: string, data: Buffer, contentType: string | undefined, sha256: string | undefined): Promise<Stored> {
  const digest = createHash('sha256').update(data).digest('hex')
  if (sha256 !== undefined && sha256 !== digest) throw checksumMismatch(sha256, digest)
  const type = contentType ?? await sniffType(data.subarray(0, SNIFF_BYTES))
  const { etag } = await store.put(storedKey, data, { contentType: type })
  return { size: data.length, sha256: digest, etag, contentType: type }
}

// The calls that move bytes — PutObject of a streamed body of known length,
// UploadPart of a part from memory, GetObject — without the SDK's middleware
// stack: the SDK's own SigV4 signer (@smithy/signature-v4), the URL the SDK
// resolves for the bucket, the client's keep-alive agent, one http.request.
// The stack (endpoint rules, serde, retry bookkeeping, user agent, logging)
// costs ~0.7 ms of CPU per call whatever the body's size (~2 ms per 5 MiB
// part of a multipart upload, its objects promoted while the part is sent);
// this path costs ~0.2 ms, which is most of what a small transfer costs the
// service (bench/README, "4 KiB uploads"). Failures are shaped like the SDK's
// (`name` = S3's error code, `$metadata.httpStatusCode`, `code` of a socket
// error), so errors.ts maps both paths to the same contract codes. GetObject
// is retried as the SDK client retries it (3 attempts: 5xx, throttling, a
// connection reset before the answer, a clock S3 finds skewed); a
// PutObject's stream cannot be sent twice, and multipart.ts retries parts
// itself. Requests are dated by the SDK client's clock offset, which both
// paths correct from S3's Date header as the SDK does.
import { createHash, createHmac } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { SignatureV4 } from '@smithy/signature-v4'
import type { S3Config } from '../config.js'
import type { Agents } from './client.js'
import { retryable } from './errors.js'
import type { PartSender } from './multipart.js'

/** the most of an error answer read for its <Code> */
const ERROR_BODY_MAX = 64 * 1024
/** GetObject's attempts, as the SDK client's maxAttempts */
const GET_ATTEMPTS = 3
/** a clock this far from S3's (by its Date header) is corrected, as the SDK corrects it */
const CLOCK_SKEW_MS = 240_000
/** SHA-256 of no bytes: the payload hash of a GET, as the SDK signs it */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** SHA-256 (HMAC-SHA-256 when given a secret) in the signer's checksum shape, on node:crypto */
type SourceData = string | ArrayBuffer | ArrayBufferView
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)

export class NodeSha256 {
  private readonly hash
  constructor (secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }

  update (data: SourceData): void { this.hash.update(bytes(data)) }
  async digest (): Promise<Uint8Array> { return this.hash.digest() }
}

/**
 * An object key as the SDK puts it in the path: each segment percent-encoded
 * (RFC 3986 unreserved characters kept), the slashes between them kept.
 */
export function encodeKey (key: string): string {
  return key.split('/').map(escapeUri).join('/')
}

/** RFC 3986 percent-encoding, as SigV4 and the SDK encode path segments and query parameters */
function escapeUri (text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** S3's time minus ours; the S3 client's resolved config holds the SDK's */
export interface Clock {
  systemClockOffset: number
}

export interface SignedTarget {
  /** the URL of the bucket's key "" as the SDK addresses it: path-style or virtual-hosted, any endpoint path included */
  bucketUrl: URL
  region: string
  accessKeyId: string
  secretAccessKey: string
  agent: http.Agent
  /** an idle timeout, also before the connection is made (S3_TIMEOUT_MS) */
  timeoutMs: number
  /** the offset requests are dated by, shared with the SDK client (its config) */
  clock: Clock
}

export interface S3Failure extends Error {
  code?: string
  $metadata: { httpStatusCode: number }
}

function s3Failure (status: number, body: string): S3Failure {
  const code = /<Code>([^<]{1,128})<\/Code>/.exec(body)?.[1]
  const message = /<Message>([^<]{0,512})<\/Message>/.exec(body)?.[1]
  const err = new Error(message ?? `HTTP ${status}`) as S3Failure
  err.name = code ?? 'UnknownError'
  err.$metadata = { httpStatusCode: status }
  return err
}

/** read an error answer's body (up to ERROR_BODY_MAX) and fail with its <Code> */
function readFailure (res: http.IncomingMessage, status: number, fail: (err: Error) => void): void {
  let text = ''
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => { if (text.length < ERROR_BODY_MAX) text += chunk })
  res.on('end', () => { fail(s3Failure(status, text)) })
  res.on('error', fail)
}

function timedOut (ms: number): Error {
  return Object.assign(new Error(`No answer from the S3 server for ${ms} ms`), { code: 'ETIMEDOUT' })
}

/** GetObject's options: `range` one `bytes=` range, `ifMatch` an ETag the object must still have */
export interface GetOptions {
  range?: string | undefined
  ifMatch?: string | undefined
}

/** a 200 or 206 answer to GetObject: its headers, and its body still to be read */
export interface GetAnswer {
  status: 200 | 206
  headers: http.IncomingHttpHeaders
  body: http.IncomingMessage
}

export class SignedS3 {
  private readonly signer: SignatureV4
  private readonly request: typeof http.request

  constructor (private readonly target: SignedTarget) {
    this.signer = new SignatureV4({
      service: 's3',
      region: target.region,
      credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
      sha256: NodeSha256,
      // S3 signs the path as sent (signingEscapePath: false in the SDK)
      uriEscapePath: false,
      applyChecksum: false
    })
    this.request = target.bucketUrl.protocol === 'https:' ? https.request : http.request
  }

  /**
   * Store `size` bytes from `body` at `key`. The promise settles once S3 has
   * answered; destroying `body` with an error, or aborting `signal`, cuts the
   * request, and S3 then keeps nothing (it stores a PUT only whole).
   */
  async put (key: string, body: Readable, size: number, contentType: string, signal?: AbortSignal): Promise<{ etag: string | undefined }> {
    return await this.send(key, {}, { 'content-type': contentType }, body, size, signal)
  }

  /**
   * UploadPart: part `partNumber` of the multipart upload `uploadId` at
   * `key`, from memory (multipart.ts's PartSender). An aborted or failed part
   * is not stored.
   */
  readonly putPart: PartSender = async ({ key, uploadId, partNumber, data, signal }) =>
    await this.send(key, { partNumber: String(partNumber), uploadId }, {}, data, data.length, signal)

  /** the time by S3's clock, as far as we know it */
  private now (): Date {
    return new Date(Date.now() + this.target.clock.systemClockOffset)
  }

  /** take S3's time from an answer's Date header when ours is off by minutes (the SDK's rule) */
  private observeClock (res: http.IncomingMessage): void {
    const date = res.headers.date
    if (date === undefined) return
    const theirs = Date.parse(date)
    if (Number.isNaN(theirs)) return
    const clock = this.target.clock
    if (Math.abs(Date.now() + clock.systemClockOffset - theirs) >= CLOCK_SKEW_MS) clock.systemClockOffset = theirs - Date.now()
  }

  /**
   * GetObject. Resolves on S3's answer with the body unread; any other
   * answer than 200 or 206 (a 412 for a replaced object too) rejects like the SDK. `signal` bounds
   * the wait for that answer, retries included; the body is then bounded by
   * the socket's idle timeout (S3_TIMEOUT_MS), and destroying it closes the
   * connection.
   */
  async get (key: string, options: GetOptions = {}, signal?: AbortSignal): Promise<GetAnswer> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.getOnce(key, options, signal)
      } catch (err) {
        if (attempt >= GET_ATTEMPTS || signal?.aborted === true || !retryable(err)) throw err
        // the SDK's backoff: up to 100 ms × 2^attempt, jittered
        await sleep(Math.random() * 100 * 2 ** attempt, undefined, signal !== undefined ? { signal } : {})
      }
    }
  }

  /**
   * Sign `method` on `key` (with `query` and `headers`), dated by S3's clock,
   * and open the request on the keep-alive agent; the caller sends its body.
   * Fails instead when `signal` has aborted meanwhile.
   */
  private async open (method: 'GET' | 'PUT', key: string, query: Record<string, string>, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<http.ClientRequest> {
    const { bucketUrl, agent, timeoutMs } = this.target
    const path = bucketUrl.pathname + encodeKey(key)
    const search = Object.entries(query).map(([name, value]) => `${escapeUri(name)}=${escapeUri(value)}`).join('&')
    const signed = await this.signer.sign({
      method,
      protocol: bucketUrl.protocol,
      hostname: bucketUrl.hostname,
      path,
      query,
      headers: { ...headers, host: bucketUrl.host }
    }, { signingDate: this.now() })
    signal?.throwIfAborted()
    return this.request({
      protocol: bucketUrl.protocol,
      hostname: bucketUrl.hostname,
      port: bucketUrl.port,
      method,
      path: search === '' ? path : `${path}?${search}`,
      headers: signed.headers,
      agent,
      timeout: timeoutMs
    })
  }

  private async getOnce (key: string, options: GetOptions, signal: AbortSignal | undefined): Promise<GetAnswer> {
    const { timeoutMs } = this.target
    const conditions: Record<string, string | undefined> = { range: options.range, 'if-match': options.ifMatch }
    const headers: Record<string, string> = { 'x-amz-content-sha256': EMPTY_SHA256 }
    for (const [name, value] of Object.entries(conditions)) if (value !== undefined) headers[name] = value
    const req = await this.open('GET', key, {}, headers, signal)
    return await new Promise((resolve, reject) => {
      const onAbort = (): void => { req.destroy(signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason))) }
      signal?.addEventListener('abort', onAbort, { once: true })
      const answered = (): void => { signal?.removeEventListener('abort', onAbort) }
      // an idle socket, before the answer or while its body streams
      req.on('timeout', () => { req.destroy(timedOut(timeoutMs)) })
      req.on('error', (err) => { answered(); reject(err) })
      req.on('response', (res) => {
        answered()
        this.observeClock(res)
        const status = res.statusCode ?? 0
        if (status === 200 || status === 206) {
          resolve({ status, headers: res.headers, body: res })
          return
        }
        readFailure(res, status, reject)
      })
      req.end()
    })
  }

  private async send (key: string, query: Record<string, string>, headers: Record<string, string>, body: Readable | Buffer, size: number, signal: AbortSignal | undefined): Promise<{ etag: string | undefined }> {
    const { timeoutMs } = this.target
    const req = await this.open('PUT', key, query, {
      ...headers,
      'content-length': String(size),
      // like the SDK for a stream body: the bytes are not part of the signature
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD'
    }, signal)
    return await new Promise((resolve, reject) => {
      const stream = Buffer.isBuffer(body) ? undefined : body
      const cut = (err: unknown): void => { req.destroy(err instanceof Error ? err : new Error(String(err))) }
      const onAbort = (): void => { cut(signal?.reason) }
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort)
        stream?.off('error', cut)
        stream?.unpipe(req)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      stream?.once('error', cut)
      req.on('timeout', () => { cut(timedOut(timeoutMs)) })
      req.on('error', (err) => { done(); reject(err) })
      req.on('response', (res) => {
        this.observeClock(res)
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) {
          res.resume()
          res.on('end', () => { done(); resolve({ etag: res.headers.etag }) })
          res.on('error', (err) => { done(); reject(err) })
          return
        }
        readFailure(res, status, (err) => {
          done()
          // a refusal before the whole body was sent leaves the connection
          // mid-request: it must not go back to the pool
          if (!req.writableFinished) req.destroy()
          reject(err)
        })
      })
      if (stream === undefined) req.end(body)
      else stream.pipe(req)
    })
  }
}

/**
 * The signed calls for `bucket`, addressed as `client` addresses it: the URL
 * of a presigned PUT for the key "k", query dropped (path-style or
 * virtual-hosted, any endpoint path kept). None with
 * S3_CHECKSUM_MODE=when_supported (the SDK adds the checksum trailer to
 * uploads and validates downloads' checksums) or when that URL does not end
 * in the key.
 */
export async function signedS3For (client: S3Client, bucket: string, config: S3Config, agents: Agents): Promise<SignedS3 | undefined> {
  if (config.checksumMode !== 'when_required') return undefined
  const url = new URL(await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 60 }))
  if (!url.pathname.endsWith('/k')) return undefined
  url.search = ''
  url.pathname = url.pathname.slice(0, -1)
  const { region, accessKeyId, secretAccessKey, timeoutMs } = config
  return new SignedS3({ bucketUrl: url, region, accessKeyId, secretAccessKey, timeoutMs, agent: url.protocol === 'https:' ? agents.https : agents.http, clock: client.config })
}

// The one place that turns S3 and network failures into the contract's codes.
import { AppError } from '../errors.js'

interface SdkError {
  name?: string
  code?: string
  message?: string
  errors?: unknown[]
  cause?: unknown
  $metadata?: { httpStatusCode?: number }
}

export const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED'])
export const TIMEOUT = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException'])
const TLS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED'
])
export const CREDENTIALS = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken'])

/** Every code found on the error, its AggregateError members and its causes. */
export function codesOf (err: unknown, depth = 0): string[] {
  if (err === null || typeof err !== 'object' || depth > 4) return []
  const e = err as SdkError
  const own = [e.code, e.name].filter((c): c is string => typeof c === 'string')
  const nested = [...(Array.isArray(e.errors) ? e.errors : []), e.cause].flatMap((x) => codesOf(x, depth + 1))
  return [...own, ...nested]
}

export function statusOf (err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode
}

/** S3 refusing a request's date: the signed path corrects its clock from the answer (signed.ts) */
const CLOCK_SKEWED = new Set(['RequestTimeTooSkewed', 'RequestExpired', 'RequestInTheFuture'])

/** 5xx and throttling answers, connections reset under a request, a skewed clock: worth a second try */
export function retryable (err: unknown): boolean {
  if (CLOCK_SKEWED.has((err as SdkError | undefined)?.name ?? '')) return true
  const status = statusOf(err)
  if (status !== undefined) return status >= 500 || status === 429
  const code = (err as SdkError | undefined)?.code
  return code === 'ECONNRESET' || code === 'EPIPE'
}

/** Map any failure of an S3 call to an AppError. `what` names the object or bucket. */
export function toAppError (err: unknown, what: string): AppError {
  if (err instanceof AppError) return err
  const codes = codesOf(err)
  const status = statusOf(err)
  const name = (err as SdkError).name ?? 'Error'
  const has = (set: Set<string>): string | undefined => codes.find((c) => set.has(c))

  if (codes.includes('NoSuchKey') || (status === 404 && !codes.includes('NoSuchBucket'))) {
    return new AppError('NOT_FOUND', `No such object: ${what}`, { cause: err })
  }
  if (codes.includes('NoSuchBucket')) {
    return new AppError('UPSTREAM_ERROR', `The bucket does not exist on the S3 server (${what})`, { cause: err })
  }
  if (status === 412 || codes.includes('PreconditionFailed')) {
    return new AppError('PRECONDITION_FAILED', 'A precondition (If-Match / If-Unmodified-Since) failed', { cause: err })
  }
  if (status === 416 || codes.includes('InvalidRange')) {
    return new AppError('RANGE_NOT_SATISFIABLE', 'The requested range is not satisfiable', { cause: err })
  }
  if (codes.includes('KeyTooLongError')) {
    return new AppError('INVALID_KEY', `The S3 server cannot store this key (${what}): ${(err as SdkError).message ?? 'KeyTooLongError'}`, { cause: err })
  }
  const tls = has(TLS)
  if (tls !== undefined) {
    return new AppError('UPSTREAM_ERROR', `TLS certificate verification failed for the S3 endpoint (${tls}); trust its CA with S3_CA_BUNDLE or S3_CA_BUNDLE_FILE`, { cause: err })
  }
  const timeout = has(TIMEOUT)
  if (timeout !== undefined) {
    return new AppError('UPSTREAM_TIMEOUT', `The S3 server did not answer in time (${timeout})`, { cause: err })
  }
  const down = has(UNREACHABLE)
  if (down !== undefined || /socket hang up/i.test((err as SdkError).message ?? '')) {
    return new AppError('UPSTREAM_UNAVAILABLE', `The S3 server is unreachable (${down ?? 'socket hang up'})`, { cause: err })
  }
  const credentials = has(CREDENTIALS)
  if (credentials !== undefined) {
    return new AppError('UPSTREAM_ERROR', `The S3 server refused the gateway's credentials (${credentials})`, { cause: err })
  }
  if (status === 503) {
    return new AppError('UPSTREAM_ERROR', `The S3 server is overloaded (${name}, HTTP 503)`, { cause: err })
  }
  return new AppError('UPSTREAM_ERROR', `The S3 server failed (${name}${status !== undefined ? `, HTTP ${status}` : ''})`, { cause: err })
}

// What the process says when it starts: one line a person reads first (where
// it listens, which S3 and bucket, whether keys are required), and for the
// usual first-day failures one line naming the cause and the setting to fix.
import type { Config } from './config.js'
import { AppError } from './errors.js'

interface Failure { code?: string, name?: string, cause?: unknown, errors?: unknown[], $metadata?: { httpStatusCode?: number } }

/** every code and name on an error, its causes and AggregateError members */
function codes (err: unknown, depth = 0): string[] {
  if (err === null || typeof err !== 'object' || depth > 5) return []
  const e = err as Failure
  return [e.code, e.name].filter((c): c is string => typeof c === 'string')
    .concat([...(Array.isArray(e.errors) ? e.errors : []), e.cause].flatMap((x) => codes(x, depth + 1)))
}

function httpStatus (err: unknown, depth = 0): number | undefined {
  if (err === null || typeof err !== 'object' || depth > 5) return undefined
  return (err as Failure).$metadata?.httpStatusCode ?? httpStatus((err as Failure).cause, depth + 1)
}

const isLoopbackHost = (host: string): boolean => host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]'

/** `listening on … · S3 … bucket "…" · auth: …` */
export function startupLine (config: Config, listening: string, embedded: boolean): string {
  const keys = config.keys.length
  const auth = config.authDisabled
    ? 'auth: OFF (AUTH_DISABLED=true): anyone who reaches the port may call'
    : keys === 0
      ? 'auth: OFF — loopback only (set API_KEYS to serve beyond this machine)'
      : `auth: on, ${keys} key${keys === 1 ? '' : 's'}`
  const s3 = embedded ? `${config.s3.endpoint ?? ''} (embedded development S3)` : config.s3.endpoint ?? ''
  return `dify-s3-gateway listening on ${listening} · S3 ${s3}, bucket "${config.s3.bucket}" · ${auth}`
}

/** Warnings about settings that work here but not from Dify. */
export function settingWarnings (config: Config): string[] {
  const warnings: string[] = []
  if (!isLoopbackHost(config.host)) {
    if (!config.publicUrlSet) {
      warnings.push(`PUBLIC_URL is unset while listening on ${config.host}: /openapi.json names the host each request came to. ` +
        'Set PUBLIC_URL to the URL Dify reaches this service at (e.g. http://dify-s3-gateway:3000)')
    } else if (isLoopbackHost(new URL(config.publicUrl).hostname)) {
      warnings.push(`PUBLIC_URL is ${config.publicUrl}, a loopback address: Dify refuses to import an OpenAPI document whose server is loopback, and other machines cannot reach it. Set PUBLIC_URL to the URL Dify reaches this service at`)
    }
  }
  return warnings
}

/** The S3 bucket check failed: one line with the cause and the setting to fix. */
export function bucketCause (err: unknown, config: Config): string {
  const found = codes(err)
  const status = httpStatus(err)
  const endpoint = config.s3.endpoint ?? ''
  const has = (...names: string[]): string | undefined => found.find((c) => names.includes(c))
  const credentials = has('InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'Forbidden')
  if (credentials !== undefined || status === 403) {
    return `S3 at ${endpoint} refused the credentials (${credentials ?? 'HTTP 403'}): check S3_ACCESS_KEY and S3_SECRET_KEY, and that this user may use bucket "${config.s3.bucket}"`
  }
  if (has('NoSuchBucket', 'NotFound') !== undefined || status === 404 || (err instanceof AppError && err.code === 'NOT_FOUND')) {
    return `bucket "${config.s3.bucket}" does not exist at ${endpoint}: create it (e.g. \`mc mb\`, \`aws s3 mb\`), or set BUCKET_NAME to one that does`
  }
  const down = has('ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'TimeoutError', 'AbortError')
  if (down !== undefined || (err instanceof AppError && (err.code === 'UPSTREAM_UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT'))) {
    return `S3_ENDPOINT ${endpoint} is unreachable (${down ?? (err as Error).message}): check S3_ENDPOINT and that the S3 server runs`
  }
  return `S3 at ${endpoint} is not usable yet: ${(err as Error).message}`
}

/** listen() failed: the port in use, or not ours to take. */
export function listenCause (err: unknown, config: Config): string | undefined {
  const code = (err as Failure).code
  if (code === 'EADDRINUSE') return `port ${config.port} on ${config.host} is in use (EADDRINUSE): stop what listens there, or set PORT to a free port`
  if (code === 'EACCES') return `port ${config.port} on ${config.host} needs privileges this process lacks (EACCES): set PORT above 1023`
  if (code === 'EADDRNOTAVAIL') return `HOST ${config.host} is not an address of this machine (EADDRNOTAVAIL): set HOST (0.0.0.0 for every interface)`
  return undefined
}

// What the process says when it starts: one line a person reads first (where
// it listens, which S3 and bucket, whether keys are required), and for the
// usual first-day failures one line naming the cause and the setting to fix.
import { isLoopback, type Config } from './config.js'
import { AppError } from './errors.js'
import { codesOf, CREDENTIALS, statusOf, TIMEOUT, UNREACHABLE } from './s3/errors.js'

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
  if (!isLoopback(config.host)) {
    if (!config.publicUrlSet) {
      warnings.push(`PUBLIC_URL is unset while listening on ${config.host}: /openapi.json names the host each request came to. ` +
        'Set PUBLIC_URL to the URL Dify reaches this service at (e.g. http://dify-s3-gateway:3000)')
    } else if (isLoopback(new URL(config.publicUrl).hostname)) {
      warnings.push(`PUBLIC_URL is ${config.publicUrl}, a loopback address: Dify refuses to import an OpenAPI document whose server is loopback, and other machines cannot reach it. Set PUBLIC_URL to the URL Dify reaches this service at`)
    }
  }
  return warnings
}

/** The S3 bucket check failed: one line with the cause and the setting to fix. */
export function bucketCause (err: unknown, config: Config): string {
  // checkBucket throws the AppError of s3/errors.ts, the SDK's error its cause
  const found = codesOf(err)
  const status = statusOf(err) ?? statusOf((err as { cause?: unknown }).cause)
  const endpoint = config.s3.endpoint ?? ''
  const has = (...sets: Array<ReadonlySet<string>>): string | undefined => found.find((c) => sets.some((s) => s.has(c)))
  const credentials = has(CREDENTIALS)
  if (credentials !== undefined || status === 403) {
    return `S3 at ${endpoint} refused the credentials (${credentials ?? 'HTTP 403'}): check S3_ACCESS_KEY and S3_SECRET_KEY, and that this user may use bucket "${config.s3.bucket}"`
  }
  if (found.includes('NoSuchBucket') || status === 404 || (err instanceof AppError && err.code === 'NOT_FOUND')) {
    return `bucket "${config.s3.bucket}" does not exist at ${endpoint}: create it (e.g. \`mc mb\`, \`aws s3 mb\`), or set BUCKET_NAME to one that does`
  }
  const down = has(UNREACHABLE, TIMEOUT)
  if (down !== undefined || (err instanceof AppError && (err.code === 'UPSTREAM_UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT'))) {
    return `S3_ENDPOINT ${endpoint} is unreachable (${down ?? (err as Error).message}): check S3_ENDPOINT and that the S3 server runs`
  }
  return `S3 at ${endpoint} is not usable yet: ${(err as Error).message}`
}

/** listen() failed: the port in use, or not ours to take. */
export function listenCause (err: unknown, config: Config): string | undefined {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE') return `port ${config.port} on ${config.host} is in use (EADDRINUSE): stop what listens there, or set PORT to a free port`
  if (code === 'EACCES') return `port ${config.port} on ${config.host} needs privileges this process lacks (EACCES): set PORT above 1023`
  if (code === 'EADDRNOTAVAIL') return `HOST ${config.host} is not an address of this machine (EADDRNOTAVAIL): set HOST (0.0.0.0 for every interface)`
  return undefined
}

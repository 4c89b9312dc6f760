// Environment → one typed, validated Config. Read once at start; a bad value
// stops the process with a one-line reason that names the variable.
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import envSchema from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'
import { KeyRing, PLACEHOLDER_SECRETS, plainKey, splitPlainKeys, weakKeysProblem, type ApiKey } from './auth/keys.js'

const GiB = 1024 ** 3
const MiB = 1024 ** 2

const Bool = Type.Union([Type.Boolean(), Type.String()])
// a plain enum, so that a bad value's error lists the allowed ones
const OneOf = <T extends string>(values: readonly T[], defaultValue: T) => Type.Unsafe<T>({ type: 'string', enum: values, default: defaultValue })
const EnvSchema = Type.Object({
  NODE_ENV: Type.Optional(Type.String()),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  PUBLIC_URL: Type.Optional(Type.String()),
  S3_ENDPOINT: Type.Optional(Type.String()),
  S3_PUBLIC_ENDPOINT: Type.Optional(Type.String()),
  S3_ACCESS_KEY: Type.Optional(Type.String()),
  S3_SECRET_KEY: Type.Optional(Type.String()),
  BUCKET_NAME: Type.Optional(Type.String()),
  S3_BUCKET: Type.Optional(Type.String()),
  S3_REGION: Type.String({ default: 'us-east-1', minLength: 1 }),
  S3_FORCE_PATH_STYLE: Type.Optional(Bool),
  S3_CA_BUNDLE: Type.Optional(Type.String()),
  S3_CA_BUNDLE_FILE: Type.Optional(Type.String()),
  S3_CHECKSUM_MODE: OneOf(['when_required', 'when_supported'] as const, 'when_required'),
  S3_TIMEOUT_MS: Type.Integer({ default: 60_000, minimum: 100 }),
  S3_MAX_SOCKETS: Type.Integer({ default: 256, minimum: 1 }),
  UPLOAD_PART_SIZE_MIB: Type.Integer({ default: 5, minimum: 5, maximum: 5120 }),
  UPLOAD_PART_CONCURRENCY: Type.Integer({ default: 3, minimum: 1, maximum: 16 }),
  UPLOAD_BUFFER_MIB: Type.Integer({ default: 24, minimum: 5 }),
  UPLOAD_GUESS_MIB: Type.Integer({ default: 32, minimum: 0 }),
  UPLOAD_GUESS_MAX_MIB: Type.Integer({ default: 16, minimum: 1, maximum: 5120 }),
  UPLOAD_STAGING: Type.Optional(Bool),
  UPLOAD_STAGING_PREFIX: Type.String({ default: '.gateway-staging/', pattern: '^[^\\s/][^\\s]{0,199}$' }),
  DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  EMBEDDED_S3_PORT: Type.Integer({ default: 4568, minimum: 0, maximum: 65535 }),
  API_KEYS: Type.Optional(Type.String()),
  API_KEYS_FILE: Type.Optional(Type.String()),
  AUTH_DISABLED: Type.Optional(Bool),
  API_KEY_HEADER: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' })),
  API_KEY_QUERY_PARAM: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' })),
  MAX_UPLOAD_BYTES: Type.Integer({ default: 5 * GiB, minimum: 1 }),
  BASE64_MAX_BYTES: Type.Integer({ default: 32 * MiB, minimum: 1 }),
  BASE64_STREAMS: Type.Integer({ default: 2, minimum: 1, maximum: 64 }),
  MALLOC_KEEP_MIB: Type.Integer({ default: 32, minimum: 0, maximum: 62 }),
  PRESIGN_DEFAULT_EXPIRY: Type.Integer({ default: 3600, minimum: 1, maximum: 604800 }),
  PRESIGN_MAX_EXPIRY: Type.Integer({ default: 604800, minimum: 1, maximum: 604800 }),
  KEY_PREFIX: Type.Optional(Type.String()),
  LOG_LEVEL: OneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  LOG_FORMAT: Type.Optional(Type.Unsafe<'json' | 'pretty'>({ type: 'string', enum: ['json', 'pretty'] })),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 0 }),
  SHUTDOWN_IDLE_MS: Type.Integer({ default: 1000, minimum: 0, maximum: 60_000 }),
  MAX_CONCURRENT_TRANSFERS: Type.Integer({ default: 128, minimum: 1 }),
  DIFY_ENDPOINT: Type.Optional(Type.String()),
  FILE_URL_ALLOWED_ORIGINS: Type.Optional(Type.String()),
  FILE_URL_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100 }),
  FILE_URL_MAX_REDIRECTS: Type.Integer({ default: 3, minimum: 0, maximum: 10 }),
  MCP_INLINE_MAX_BYTES: Type.Integer({ default: MiB, minimum: 1, maximum: 16 * MiB }),
  MCP_ALLOWED_ORIGINS: Type.Optional(Type.String()),
  UPLOAD_PAGE: Type.Optional(Bool)
})
type Env = Static<typeof EnvSchema>

/** the name of every setting the service reads from its environment */
export const SETTINGS: readonly string[] = Object.keys(EnvSchema.properties)

export type ChecksumMode = 'when_required' | 'when_supported'

export interface S3Config {
  /** undefined → the embedded development S3 is started and fills these in */
  endpoint: string | undefined
  publicEndpoint: string | undefined
  accessKeyId: string
  secretAccessKey: string
  bucket: string
  region: string
  forcePathStyle: boolean
  caBundle: string | undefined
  checksumMode: ChecksumMode
  timeoutMs: number
  maxSockets: number
  /** bodies of unknown length: part size in bytes, parts uploading at once (memory per upload: concurrency × size) */
  partSize: number
  partConcurrency: number
  /** the part buffers of all uploads together, in bytes: an upload waits for one beyond it */
  partBufferBytes: number
  /** bytes kept for bodies whose length is guessed (a form's file part), all together; 0: no guessing */
  guessBufferBytes: number
  /** the largest file part whose length is guessed, kept whole until it ends (UPLOAD_GUESS_MAX_MIB) */
  guessMaxBytes: number
  /** where a guessed file part too large to keep is staged before it is copied into place; '': never staged (UPLOAD_STAGING=false) */
  stagingPrefix: string
}

export interface Config {
  production: boolean
  host: string
  port: number
  publicUrl: string
  /** PUBLIC_URL was set: without it /openapi.json names the host each request came to */
  publicUrlSet: boolean
  s3: S3Config
  dataDir: string
  /** API_KEYS (every permission each) */
  fixedKeys: ApiKey[]
  /** API_KEYS_FILE, re-read on SIGHUP */
  apiKeysFile: string | undefined
  /** the keys accepted at start: fixedKeys and the file's */
  keys: ApiKey[]
  /** where else a key may be sent: a custom header (lower case), a query parameter (redacted from logs) */
  keySources: { header: string | undefined, queryParam: string | undefined }
  authDisabled: boolean
  maxUploadBytes: number
  base64MaxBytes: number
  /** JSON base64 bodies decoded at once (the others wait their turn, BASE64_TURN_WAIT_MS at most) */
  base64Streams: number
  /** free heap glibc keeps for reuse instead of giving it back (MALLOC_KEEP_MIB; 0: glibc's own 128 KiB) */
  mallocKeepBytes: number
  presignDefaultExpiry: number
  presignMaxExpiry: number
  keyPrefix: string
  logLevel: string
  /** pino JSON lines, or readable lines (development default, when pino-pretty is installed) */
  logFormat: 'json' | 'pretty'
  shutdownTimeoutMs: number
  shutdownIdleMs: number
  /** uploads + downloads at once; more get 503 SERVICE_OVERLOADED with Retry-After */
  maxConcurrentTransfers: number
  fileUrl: FileUrlConfig
  /** serve the example Uppy page at /upload-page */
  uploadPage: boolean
  /** the embedded development S3's port (fixed, so that its presigned URLs survive a restart; 0: any free one) */
  embeddedS3Port: number
  mcp: {
    /** the largest object an MCP answer carries inline (an embedded resource, text, base64) */
    inlineMaxBytes: number
    /** browser origins that may call /mcp besides PUBLIC_URL's and loopback ones */
    allowedOrigins: string[]
  }
}

/** Where `file_url` may fetch from (API.md; DIFY.md §3). */
export interface FileUrlConfig {
  /** base that relative Dify file URLs (`/files/...`) resolve against, no trailing slash */
  difyEndpoint: string | undefined
  /** origins (scheme://host[:port]) file URLs may point at: DIFY_ENDPOINT's plus FILE_URL_ALLOWED_ORIGINS */
  allowedOrigins: string[]
  /** FILE_URL_ALLOWED_ORIGINS alone: any path there; DIFY_ENDPOINT's origin is held to its /files/ paths */
  openOrigins: string[]
  /** connect timeout, and the longest silence while waiting for headers or body bytes */
  timeoutMs: number
  maxRedirects: number
}

export class ConfigError extends Error {
  override name = 'ConfigError'
  /** each problem found, one line each */
  readonly problems: string[]
  constructor (message: string, problems: string[] = [message]) {
    super(message)
    this.problems = problems
  }
}

/** Parse `true/false/1/0/yes/no` (any case); anything else is an error naming `name`. */
export function parseBoolean (value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined
  if (typeof value === 'boolean') return value
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase()
    if (v === 'true' || v === '1' || v === 'yes') return true
    if (v === 'false' || v === '0' || v === 'no') return false
  }
  throw new ConfigError(`${name} must be one of true/false/1/0/yes/no (got ${JSON.stringify(value)})`)
}

function parseUrl (value: string | undefined, name: string): string | undefined {
  if (value === undefined || value.trim() === '') return undefined
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL (got ${JSON.stringify(value)})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an http(s) URL (got ${JSON.stringify(value)})`)
  }
  return url.href.replace(/\/+$/, '')
}

function parseOrigins (value: string | undefined, name: string): string[] {
  return (value ?? '').split(/[\s,]+/).filter((o) => o !== '').map((origin) => {
    const url = parseUrl(origin, name) as string
    const { pathname, search } = new URL(url)
    if (pathname !== '/' || search !== '') throw new ConfigError(`${name} takes origins (scheme://host[:port]) without a path (got ${JSON.stringify(origin)})`)
    return new URL(url).origin
  })
}

function readFileSetting (path: string, name: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${path}: ${(err as Error).message}`)
  }
}

export function isLoopback (host: string): boolean {
  if (host === 'localhost') return true
  const bare = host.replace(/^\[|\]$/g, '')
  if (isIP(bare) === 4) return bare.startsWith('127.')
  if (isIP(bare) === 6) return bare === '::1'
  return false
}

/** One line per problem: a bad value names its variable, the value and what is allowed. */
function schemaProblems (err: unknown, data: Record<string, unknown>): Array<{ name: string, line: string }> {
  const errors = (err as { errors?: Array<{ instancePath: string, message?: string, params?: Record<string, unknown> }> }).errors
  if (errors === undefined || errors.length === 0) return [{ name: '', line: (err as Error).message }]
  const seen = new Set<string>()
  return errors.flatMap((e) => {
    const name = e.instancePath.replace(/^\//, '')
    if (seen.has(name)) return []
    seen.add(name)
    const allowed = Array.isArray(e.params?.allowedValues) ? `: ${e.params.allowedValues.join(', ')}` : ''
    return [{ name, line: `${name} ${e.message ?? 'is invalid'}${allowed} (got ${JSON.stringify(data[name])})` }]
  })
}

/** The typed environment; bad values are reported in `problems` and replaced by their defaults. */
function validateEnv (env: Record<string, string | undefined>, problems: string[]): Env {
  const data: Record<string, unknown> = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in EnvSchema.properties && v !== undefined && v !== ''))
  const validate = (): Env => envSchema<Env>({ schema: structuredClone(EnvSchema) as never, data, env: false })
  try {
    return validate()
  } catch (err) {
    for (const { name, line } of schemaProblems(err, data)) {
      problems.push(line)
      delete data[name]
    }
    return validate()
  }
}

/** run `parse`; a ConfigError becomes a line of `problems` and `fallback` stands in */
function collect<T> (problems: string[], fallback: T, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(err.message)
    return fallback
  }
}

/** Build the Config from an environment (process.env by default). Throws one ConfigError listing every problem. */
export function loadConfig (rawEnv: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = []
  const env = validateEnv(rawEnv, problems)
  const production = env.NODE_ENV === 'production'
  const endpoint = collect(problems, undefined, () => parseUrl(env.S3_ENDPOINT, 'S3_ENDPOINT'))
  if (endpoint === undefined && production && env.S3_ENDPOINT === undefined) {
    problems.push('S3_ENDPOINT is required when NODE_ENV=production (the embedded S3 is for development only)')
  }
  const external = endpoint !== undefined || env.S3_ENDPOINT !== undefined
  let bucket = env.BUCKET_NAME ?? env.S3_BUCKET ?? (external ? undefined : 'dify')
  if (bucket === undefined) problems.push('BUCKET_NAME (or S3_BUCKET) is required when S3_ENDPOINT is set')
  else if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) problems.push(`BUCKET_NAME is not a valid bucket name (got ${JSON.stringify(bucket)})`)
  bucket ??= 'dify'
  if (external) {
    const missing = ['S3_ACCESS_KEY', 'S3_SECRET_KEY'].filter((name) => env[name as 'S3_ACCESS_KEY'] === undefined)
    if (missing.length > 0) problems.push(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required when S3_ENDPOINT is set`)
  }
  if (production && env.S3_SECRET_KEY !== undefined && PLACEHOLDER_SECRETS.includes(env.S3_SECRET_KEY)) {
    problems.push('S3_SECRET_KEY is a placeholder from .env.example (or MinIO\'s default): set the real secret (NODE_ENV=production)')
  }

  let caBundle = env.S3_CA_BUNDLE
  if (env.S3_CA_BUNDLE_FILE !== undefined) caBundle = collect(problems, undefined, () => readFileSetting(env.S3_CA_BUNDLE_FILE as string, 'S3_CA_BUNDLE_FILE'))
  if (caBundle !== undefined && !caBundle.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push(`${env.S3_CA_BUNDLE_FILE !== undefined ? 'S3_CA_BUNDLE_FILE' : 'S3_CA_BUNDLE'} holds no PEM certificate`)
  }

  const fixedKeys = splitPlainKeys(env.API_KEYS ?? '').map(plainKey)
  const keys = collect<ApiKey[]>(problems, fixedKeys, () => {
    try {
      return KeyRing.load(fixedKeys, env.API_KEYS_FILE)
    } catch (err) {
      throw new ConfigError(`${env.API_KEYS_FILE !== undefined ? 'API_KEYS_FILE' : 'API_KEYS'}: ${(err as Error).message}`)
    }
  })
  const weak = production ? weakKeysProblem(keys) : undefined
  if (weak !== undefined) problems.push(weak)
  const authDisabled = collect(problems, false, () => parseBoolean(env.AUTH_DISABLED, 'AUTH_DISABLED') ?? false)
  if (keys.length === 0 && !authDisabled && !isLoopback(env.HOST)) {
    problems.push(`API_KEYS (or API_KEYS_FILE) is required to listen on ${env.HOST}; set AUTH_DISABLED=true to serve without keys`)
  }
  if (env.PRESIGN_DEFAULT_EXPIRY > env.PRESIGN_MAX_EXPIRY) {
    problems.push(`PRESIGN_DEFAULT_EXPIRY (${env.PRESIGN_DEFAULT_EXPIRY}) must not exceed PRESIGN_MAX_EXPIRY (${env.PRESIGN_MAX_EXPIRY})`)
  }
  const keyPrefix = (env.KEY_PREFIX ?? '').replace(/^\/+|\/+$/g, '')
  const staging = collect(problems, true, () => parseBoolean(env.UPLOAD_STAGING, 'UPLOAD_STAGING') ?? true)
  const difyEndpoint = collect(problems, undefined, () => parseUrl(env.DIFY_ENDPOINT, 'DIFY_ENDPOINT'))
  const openOrigins = collect<string[]>(problems, [], () => parseOrigins(env.FILE_URL_ALLOWED_ORIGINS, 'FILE_URL_ALLOWED_ORIGINS'))
  const allowedOrigins = [...new Set([
    ...(difyEndpoint !== undefined ? [new URL(difyEndpoint).origin] : []),
    ...openOrigins
  ])]
  const publicUrl = collect(problems, undefined, () => parseUrl(env.PUBLIC_URL, 'PUBLIC_URL'))
  const publicEndpoint = collect(problems, undefined, () => parseUrl(env.S3_PUBLIC_ENDPOINT, 'S3_PUBLIC_ENDPOINT'))
  const forcePathStyle = collect(problems, true, () => parseBoolean(env.S3_FORCE_PATH_STYLE, 'S3_FORCE_PATH_STYLE') ?? true)
  const uploadPage = collect(problems, false, () => parseBoolean(env.UPLOAD_PAGE, 'UPLOAD_PAGE') ?? false)
  const mcpOrigins = collect<string[]>(problems, [], () => parseOrigins(env.MCP_ALLOWED_ORIGINS, 'MCP_ALLOWED_ORIGINS'))
  if (problems.length > 0) throw new ConfigError(problems.join('\n'), problems)
  const urlHost = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST

  return {
    production,
    host: env.HOST,
    port: env.PORT,
    publicUrl: publicUrl ?? `http://${urlHost}:${env.PORT}`,
    publicUrlSet: publicUrl !== undefined,
    s3: {
      endpoint,
      publicEndpoint,
      accessKeyId: env.S3_ACCESS_KEY ?? '',
      secretAccessKey: env.S3_SECRET_KEY ?? '',
      bucket,
      region: env.S3_REGION,
      forcePathStyle,
      caBundle,
      checksumMode: env.S3_CHECKSUM_MODE,
      timeoutMs: env.S3_TIMEOUT_MS,
      maxSockets: env.S3_MAX_SOCKETS,
      partSize: env.UPLOAD_PART_SIZE_MIB * MiB,
      partConcurrency: env.UPLOAD_PART_CONCURRENCY,
      partBufferBytes: env.UPLOAD_BUFFER_MIB * MiB,
      guessBufferBytes: env.UPLOAD_GUESS_MIB * MiB,
      guessMaxBytes: env.UPLOAD_GUESS_MAX_MIB * MiB,
      // under KEY_PREFIX too: a service that shares a bucket stays in its place
      stagingPrefix: !staging ? '' : keyPrefix === '' ? env.UPLOAD_STAGING_PREFIX : `${keyPrefix}/${env.UPLOAD_STAGING_PREFIX}`
    },
    dataDir: env.DATA_DIR,
    fixedKeys,
    apiKeysFile: env.API_KEYS_FILE,
    keys,
    keySources: { header: env.API_KEY_HEADER?.toLowerCase(), queryParam: env.API_KEY_QUERY_PARAM },
    authDisabled,
    maxUploadBytes: env.MAX_UPLOAD_BYTES,
    base64MaxBytes: env.BASE64_MAX_BYTES,
    base64Streams: env.BASE64_STREAMS,
    mallocKeepBytes: env.MALLOC_KEEP_MIB * MiB,
    presignDefaultExpiry: env.PRESIGN_DEFAULT_EXPIRY,
    presignMaxExpiry: env.PRESIGN_MAX_EXPIRY,
    keyPrefix,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT ?? (production ? 'json' : 'pretty'),
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    shutdownIdleMs: env.SHUTDOWN_IDLE_MS,
    maxConcurrentTransfers: env.MAX_CONCURRENT_TRANSFERS,
    fileUrl: { difyEndpoint, allowedOrigins, openOrigins, timeoutMs: env.FILE_URL_TIMEOUT_MS, maxRedirects: env.FILE_URL_MAX_REDIRECTS },
    uploadPage,
    embeddedS3Port: env.EMBEDDED_S3_PORT,
    mcp: { inlineMaxBytes: env.MCP_INLINE_MAX_BYTES, allowedOrigins: mcpOrigins }
  }
}

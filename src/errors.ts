// The contract's error codes (API.md "Errors") and the one error type that
// carries them. Every error answer is built from an AppError.
import { STATUS_CODES } from 'node:http'

export const ERROR_STATUS = {
  MISSING_KEY: 400,
  INVALID_KEY: 400,
  MISSING_FILE: 400,
  INVALID_BASE64: 400,
  INVALID_PARAMETER: 400,
  CHECKSUM_MISMATCH: 400,
  /** only ever a `failed` entry of a form with several files */
  AMBIGUOUS_KEY: 400,
  URL_NOT_ALLOWED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PRECONDITION_FAILED: 412,
  /** an Expect header other than 100-continue */
  EXPECTATION_FAILED: 417,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  INTERNAL_ERROR: 500,
  FETCH_FAILED: 502,
  UPSTREAM_ERROR: 502,
  UPSTREAM_UNAVAILABLE: 503,
  SERVICE_OVERLOADED: 503,
  UPSTREAM_TIMEOUT: 504
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export class AppError extends Error {
  override name = 'AppError'
  readonly code: ErrorCode
  readonly statusCode: number
  /** extra response headers (Retry-After, Content-Range, …) */
  readonly headers: Record<string, string>

  constructor (code: ErrorCode, message: string, options: { cause?: unknown, headers?: Record<string, string> } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined)
    this.code = code
    this.statusCode = ERROR_STATUS[code]
    this.headers = options.headers ?? {}
  }
}

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

export function errorBody (err: AppError): ErrorBody {
  return {
    statusCode: err.statusCode,
    code: err.code,
    error: STATUS_CODES[err.statusCode] ?? 'Error',
    message: err.message
  }
}

/** The error body as an answer's text: JSON and a newline, for answers written without Fastify's reply */
export function errorJson (err: AppError): string {
  return `${JSON.stringify(errorBody(err))}\n`
}

export const missingKey = (): AppError => new AppError('MISSING_KEY', 'Missing required parameter: s3_key or filename')
export const invalidParameter = (message: string): AppError => new AppError('INVALID_PARAMETER', message)
export const payloadTooLarge = (limit: number, what = 'upload'): AppError =>
  new AppError('PAYLOAD_TOO_LARGE', `The ${what} exceeds the limit of ${limit} bytes`)

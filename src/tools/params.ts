// Parameters several tools share (API.md "Shared parameters"), declared once
// with their aliases and examples.
import type { ParamSpec } from './registry.js'

export const KEY_PARAMS: Record<string, ParamSpec> = {
  s3_key: { type: 'string', description: 'Object key in the bucket, e.g. "reports/2025/summary.pdf". A leading "/" is stripped.', example: 'reports/2025/summary.pdf' },
  filename: { type: 'string', description: 'Used as the object key when s3_key is not given.', example: 'summary.pdf' }
}

export const PRESIGN_PARAMS: Record<string, ParamSpec> = {
  generate_presigned_url: { type: 'boolean', description: 'Also return a presigned GET URL for the object (true/false).', example: false },
  generate_presign_url: { type: 'boolean', description: 'Alias of generate_presigned_url.', aliasOf: 'generate_presigned_url' },
  presigned_expiration: { type: 'integer', description: 'Lifetime of the presigned URL in seconds (default 3600).', example: 3600 },
  presign_expiry: { type: 'integer', description: 'Alias of presigned_expiration.', aliasOf: 'presigned_expiration' }
}

export const UPLOAD_PARAMS: Record<string, ParamSpec> = {
  ...KEY_PARAMS,
  content_type: { type: 'string', description: 'Content-Type to store with the object; when absent it comes from the upload, the key\'s extension or the first bytes.', example: 'application/pdf' },
  sha256: { type: 'string', description: 'Expected SHA-256 (64 hex characters) of the content; on mismatch nothing is stored.', example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  ...PRESIGN_PARAMS
}

export const MAX_BYTES_PARAM = (defaultBytes: number, what: string): ParamSpec => ({
  type: 'integer',
  description: `Largest ${what} to send. A bigger object is not sent: the answer is JSON with too_large: true, its size and a presigned_url to fetch it from S3 directly.`,
  example: defaultBytes,
  default: defaultBytes
})

/** The statuses most tools can answer beside their own (OpenAPI `responses`). */
export const COMMON_ERRORS = [400, 401, 403, 502, 503, 504]

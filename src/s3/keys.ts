// Object key rules (API.md "Shared parameters"): precedence, normalisation,
// validation, and KEY_PREFIX.
import { AppError, missingKey } from '../errors.js'

export const MAX_KEY_BYTES = 1024

export interface ObjectKey {
  /** the caller's key, as answered in responses */
  key: string
  /** where it lives in the bucket (with KEY_PREFIX) */
  storedKey: string
}

// \p{Cc}: C0 and C1 control characters, DEL
const CONTROL = /\p{Cc}/u
// with the u flag only a lone surrogate matches: JSON can carry one, UTF-8 cannot
const LONE_SURROGATE = /\p{Cs}/u

/** Why `key` is not acceptable, or undefined when it is. */
export function keyProblem (key: string): string | undefined {
  if (key === '') return 'the key is empty'
  if (CONTROL.test(key)) return 'the key holds a control character'
  if (LONE_SURROGATE.test(key)) return 'the key is not valid Unicode (a lone surrogate)'
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) return 'the key has a "." or ".." path segment'
  return undefined
}

/**
 * The first non-empty candidate (s3_key, then filename, then a multipart part's
 * own filename) becomes the key: leading slashes stripped, validated, prefixed.
 */
export function resolveObjectKey (candidates: ReadonlyArray<string | undefined>, keyPrefix: string): ObjectKey {
  const raw = candidates.find((c) => c !== undefined && c !== '')
  if (raw === undefined) throw missingKey()
  const key = raw.replace(/^\/+/, '')
  const problem = keyProblem(key)
  if (problem !== undefined) throw new AppError('INVALID_KEY', `Invalid key ${JSON.stringify(raw)}: ${problem}`)
  const storedKey = keyPrefix === '' ? key : `${keyPrefix}/${key}`
  const bytes = Buffer.byteLength(storedKey)
  if (bytes > MAX_KEY_BYTES) {
    throw new AppError('INVALID_KEY', `Invalid key: the stored key is ${bytes} UTF-8 bytes long, more than ${MAX_KEY_BYTES}`)
  }
  return { key, storedKey }
}

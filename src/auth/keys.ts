// API keys and what each may do (API.md Part 2 "Scoped API keys"): the plain
// forms (API_KEYS, a key a line in API_KEYS_FILE) give every permission; a
// YAML/JSON API_KEYS_FILE names each key, limits it to a prefix and to some
// permissions, and may lower its upload limit. Keys are held as SHA-256
// digests only, and the file is re-read on SIGHUP (server.ts) by KeyRing.
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { keyProblem } from '../s3/keys.js'

export const PERMISSIONS = ['read', 'write', 'delete', 'list', 'presign'] as const
export type Permission = typeof PERMISSIONS[number]

export interface ApiKey {
  /** what logs and metrics show; never the key */
  name: string
  /** SHA-256 of the key's UTF-8 bytes */
  digest: Buffer
  /** every key this caller names lives under it ('' = the whole bucket, or KEY_PREFIX) */
  prefix: string
  permissions: ReadonlySet<Permission>
  /** lower than MAX_UPLOAD_BYTES for this key, when set */
  maxUploadBytes: number | undefined
  /** the key's length in characters, when the key itself was given (not a sha256): production refuses short ones */
  length?: number
}

export class KeyFileError extends Error {
  override name = 'KeyFileError'
}

export const sha256Of = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest()

const ALL = new Set<Permission>(PERMISSIONS)
const NAME = /^[A-Za-z0-9][\w.@:-]{0,63}$/

/** A plain key: every permission, the whole bucket, named by a fingerprint that cannot be turned back into it. */
export function plainKey (key: string): ApiKey {
  const digest = sha256Of(key)
  return { name: `key-${digest.toString('hex').slice(0, 8)}`, digest, prefix: '', permissions: ALL, maxUploadBytes: undefined, length: [...key].length }
}

/** Keys separated by whitespace or commas; a line starting with "#" is a comment, every word of it */
export function splitPlainKeys (text: string): string[] {
  return text.split('\n').filter((line) => !line.trimStart().startsWith('#')).join('\n')
    .split(/[\s,]+/).map((k) => k.trim()).filter((k) => k !== '')
}

/** `tenants/acme/` → `tenants/acme`; refused where a key could not be: `..`, control characters */
function scopePrefix (value: unknown, where: string): string {
  if (value === undefined || value === null || value === '') return ''
  if (typeof value !== 'string') throw new KeyFileError(`${where}: prefix must be a string`)
  const prefix = value.replace(/^\/+|\/+$/g, '')
  if (prefix === '') return ''
  const problem = keyProblem(prefix)
  if (problem !== undefined) throw new KeyFileError(`${where}: prefix ${JSON.stringify(value)} is not usable (${problem.replace('the key', 'it')})`)
  return prefix
}

function scopedKey (entry: unknown, index: number): ApiKey {
  const where = `keys[${index}]`
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new KeyFileError(`${where} must be a mapping with name, key or sha256, and permissions`)
  const e = entry as Record<string, unknown>
  const known = new Set(['name', 'key', 'sha256', 'prefix', 'permissions', 'max_upload_bytes'])
  const unknown = Object.keys(e).filter((k) => !known.has(k))
  if (unknown.length > 0) throw new KeyFileError(`${where}: unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${[...known].join(', ')})`)
  if (typeof e.name !== 'string' || !NAME.test(e.name)) throw new KeyFileError(`${where}: name must be 1-64 letters, digits or . _ @ : - (it appears in logs and metrics)`)
  const named = `${where} (${e.name})`
  let digest: Buffer
  let length: number | undefined
  if (e.key !== undefined && e.sha256 !== undefined) throw new KeyFileError(`${named}: give key or sha256, not both`)
  if (typeof e.key === 'string' && e.key.trim() !== '') {
    digest = sha256Of(e.key.trim())
    length = [...e.key.trim()].length
  } else if (typeof e.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(e.sha256)) {
    digest = Buffer.from(e.sha256, 'hex')
  } else {
    throw new KeyFileError(`${named}: needs key (the key itself) or sha256 (64 hex characters: the SHA-256 of the key)`)
  }
  if (!Array.isArray(e.permissions) || e.permissions.length === 0) throw new KeyFileError(`${named}: permissions must be a list of ${PERMISSIONS.join(', ')}`)
  for (const p of e.permissions) {
    if (!ALL.has(p as Permission)) throw new KeyFileError(`${named}: unknown permission ${JSON.stringify(p)} (known: ${PERMISSIONS.join(', ')})`)
  }
  const max = e.max_upload_bytes
  if (max !== undefined && (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1)) throw new KeyFileError(`${named}: max_upload_bytes must be a positive integer`)
  return { name: e.name, digest, prefix: scopePrefix(e.prefix, named), permissions: new Set(e.permissions as Permission[]), maxUploadBytes: max, ...(length !== undefined ? { length } : {}) }
}

/**
 * The keys of an API_KEYS_FILE's text: a YAML or JSON document `{keys: [..]}`
 * (or the list alone), else the plain form, one key a line.
 */
export function parseKeyFile (text: string): ApiKey[] {
  let doc: unknown
  try {
    doc = parse(text)
  } catch (err) {
    // not YAML at all: only the plain form is left, and it has no ':' or '{'
    if (/^\s*(keys\s*:|[{[])/m.test(text)) throw new KeyFileError(`not valid YAML/JSON: ${(err as Error).message.split('\n')[0] ?? ''}`)
    return splitPlainKeys(text).map(plainKey)
  }
  const list = Array.isArray(doc) ? doc : doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>).keys : undefined
  if (list === undefined) {
    if (doc !== null && typeof doc === 'object') throw new KeyFileError('a YAML/JSON key file needs a top-level "keys" list')
    return splitPlainKeys(text).map(plainKey)
  }
  if (!Array.isArray(list)) throw new KeyFileError('"keys" must be a list')
  return list.map(scopedKey)
}

export function checkUnique (keys: readonly ApiKey[]): void {
  const names = new Set<string>()
  const digests = new Set<string>()
  for (const key of keys) {
    if (names.has(key.name)) throw new KeyFileError(`two keys are named ${key.name}`)
    const hex = key.digest.toString('hex')
    if (digests.has(hex)) throw new KeyFileError(`the key named ${key.name} is given twice`)
    names.add(key.name)
    digests.add(hex)
  }
}

export function readKeyFile (path: string): ApiKey[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new KeyFileError(`cannot read ${path}: ${(err as Error).message}`)
  }
  return parseKeyFile(text)
}

/**
 * The accepted keys, swappable while the service runs: `reload()` re-reads
 * API_KEYS_FILE and keeps the keys it had when the file is broken.
 */
/** Values copied from .env.example (and MinIO's default) that must never be used in production */
export const PLACEHOLDER_SECRETS = ['change-me-please', 'replace-with-a-long-random-key', 'minioadmin']
export const MIN_KEY_LENGTH = 16

/** Why production must refuse these keys (too short, a placeholder), named by fingerprint; undefined when none is */
export function weakKeysProblem (keys: readonly ApiKey[]): string | undefined {
  const placeholders = PLACEHOLDER_SECRETS.map(sha256Of)
  const weak = keys.filter((k) => (k.length !== undefined && k.length < MIN_KEY_LENGTH) || placeholders.some((d) => d.equals(k.digest)))
  if (weak.length === 0) return undefined
  return `${weak.map((k) => k.name).join(', ')}: API keys must be at least ${MIN_KEY_LENGTH} characters and not the .env.example placeholder (NODE_ENV=production; make one with \`openssl rand -hex 32\`)`
}

export class KeyRing {
  private current: readonly ApiKey[]

  /** `check`: a problem with a set of keys that refuses it (production: weakKeysProblem), at start and on every reload */
  constructor (private readonly fixed: readonly ApiKey[], private readonly file: string | undefined, initial?: readonly ApiKey[], private readonly check?: (keys: readonly ApiKey[]) => string | undefined) {
    this.current = initial ?? this.checked(KeyRing.load(fixed, file))
  }

  private checked (keys: ApiKey[]): ApiKey[] {
    const problem = this.check?.(keys)
    if (problem !== undefined) throw new KeyFileError(problem)
    return keys
  }

  static load (fixed: readonly ApiKey[], file: string | undefined): ApiKey[] {
    const keys = [...fixed, ...(file !== undefined ? readKeyFile(file) : [])]
    checkUnique(keys)
    return keys
  }

  get keys (): readonly ApiKey[] {
    return this.current
  }

  get size (): number {
    return this.current.length
  }

  /** Re-read the file; on any problem the previous keys stay and the reason is thrown. */
  reload (): number {
    this.current = this.checked(KeyRing.load(this.fixed, this.file))
    return this.current.length
  }

  /** The key presented, compared against every key so that timing tells nothing. */
  match (presented: string): ApiKey | undefined {
    const digest = sha256Of(presented)
    let found: ApiKey | undefined
    for (const key of this.current) {
      if (timingSafeEqual(key.digest, digest) && found === undefined) found = key
    }
    return found
  }
}

// HTTP header helpers for the tools: Content-Disposition, Range, dates,
// the stored Content-Type.
import mime from 'mime-types'
import type { Conditions, ObjectInfo } from '../s3/store.js'

/**
 * `attachment; filename="<ascii>"; filename*=UTF-8''<pct>` from the key's last
 * segment. Always both forms (API.md): Dify's HTTP node turns a response into
 * a file when it sees `attachment`; the quoted ASCII fallback serves old
 * clients, `filename*` (RFC 8187) the real name.
 */
export function attachmentDisposition (key: string): string {
  const name = key.split('/').filter((s) => s !== '').at(-1) ?? 'download'
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`
}

/**
 * A single, syntactically valid `bytes=` range, or undefined to ignore the
 * header (RFC 9110 §14.2: malformed or multi-range → serve the whole object).
 * Checked here because Ceph answers 416 to garbage where AWS ignores it; the
 * object size is not known yet, so S3 decides whether the range is satisfiable.
 */
export function singleByteRange (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (match === null) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first !== '' && last !== '' && BigInt(first) > BigInt(last)) return undefined
  if (first === '' && BigInt(last) === 0n) return undefined
  return `bytes=${first}-${last}`
}

/** An HTTP date, or undefined when absent or unparsable (then the condition is ignored). */
export function httpDate (header: string | undefined): Date | undefined {
  if (header === undefined) return undefined
  const time = Date.parse(header)
  return Number.isNaN(time) ? undefined : new Date(time)
}

const TOKEN = '[A-Za-z0-9!#$&^_.+-]+'
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\x00-\\x1f\\x7f]*"))*\\s*$`)

/** `type/subtype` with optional parameters (RFC 9110 §8.3.1): safe to send as a header */
export function isMediaType (value: string): boolean {
  return value.length <= 255 && MEDIA_TYPE.test(value)
}

// Types that say nothing about the content: curl's default for -d, the generic
// binary type, and the multipart envelope.
const UNINFORMATIVE = /^(application\/octet-stream|application\/x-www-form-urlencoded|multipart\/[^;]*)\s*(;|$)/i

/**
 * content_type (validated by Params) > what the client sent (unless
 * uninformative or malformed) > guessed from the key > undefined: the upload
 * sniffs the first bytes (src/transfer/sniff.ts), else octet-stream
 */
export function storedContentType (explicit: string | undefined, sent: string | undefined, key: string): string | undefined {
  if (explicit !== undefined) return explicit
  const given = sent?.trim()
  if (given !== undefined && isMediaType(given) && !UNINFORMATIVE.test(given)) return given
  return mime.lookup(key) || undefined
}

const opaque = (tag: string): string => tag.trim().replace(/^W\//, '')
const listMatches = (header: string, etag: string): boolean =>
  header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag))
/** HTTP dates have whole seconds */
const seconds = (date: Date): number => Math.floor(date.getTime() / 1000)

/**
 * RFC 9110 §13.2.2, for GET and HEAD: 412 when If-Match (else
 * If-Unmodified-Since) fails, 304 when If-None-Match (else If-Modified-Since)
 * matches, 200 otherwise. Not every S3-compatible server evaluates these
 * (s3rver ignores If-Match), so the service does.
 */
export function evaluatePreconditions (object: Pick<ObjectInfo, 'etag' | 'lastModified'>, conditions: Conditions): 200 | 304 | 412 {
  const modified = object.lastModified !== undefined ? seconds(object.lastModified) : undefined
  if (conditions.ifMatch !== undefined) {
    if (!listMatches(conditions.ifMatch, object.etag)) return 412
  } else if (conditions.ifUnmodifiedSince !== undefined && modified !== undefined && modified > seconds(conditions.ifUnmodifiedSince)) {
    return 412
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (listMatches(conditions.ifNoneMatch, object.etag)) return 304
  } else if (conditions.ifModifiedSince !== undefined && modified !== undefined && modified <= seconds(conditions.ifModifiedSince)) {
    return 304
  }
  return 200
}

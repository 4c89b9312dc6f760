// HTTP header helpers for the tools: Content-Disposition, Range, dates,
// the stored Content-Type.
import mime from 'mime-types'
import type { ObjectInfo } from '../s3/store.js'

/** A request's conditional headers (RFC 9110 §13.1), dates parsed by httpDate */
export interface Conditions {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
  ifModifiedSince?: Date | undefined
  ifUnmodifiedSince?: Date | undefined
}

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

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTH = `(${MONTHS.join('|')})`
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`)

function utc (year: number, month: string, day: number, hour: number, minute: number, second: number): Date | undefined {
  const m = MONTHS.indexOf(month)
  if (year < 1970 || year > 9999 || hour > 23 || minute > 59 || second > 60) return undefined
  const date = new Date(Date.UTC(year, m, day, hour, minute, Math.min(second, 59)))
  // 31 Feb and the like roll over into another month: not a date
  return date.getUTCDate() === day && date.getUTCMonth() === m ? date : undefined
}

/**
 * An HTTP date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and
 * asctime forms, years 1970–9999), or undefined when absent or anything else
 * (then the condition is ignored, as §13.1.3 and §13.1.4 say). Date.parse is
 * not used: it takes junk like "1" or "99999".
 */
export function httpDate (header: string | undefined): Date | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  let match = IMF_FIXDATE.exec(value)
  if (match !== null) return utc(Number(match[3]), match[2] as string, Number(match[1]), Number(match[4]), Number(match[5]), Number(match[6]))
  match = RFC_850.exec(value)
  if (match !== null) {
    const yy = Number(match[3])
    return utc(yy >= 70 ? 1900 + yy : 2000 + yy, match[2] as string, Number(match[1]), Number(match[4]), Number(match[5]), Number(match[6]))
  }
  match = ASCTIME.exec(value)
  if (match !== null) return utc(Number(match[6]), match[1] as string, Number((match[2] as string).trim()), Number(match[3]), Number(match[4]), Number(match[5]))
  return undefined
}

const TOKEN = '[A-Za-z0-9!#$&^_.+-]+'
// quoted values in printable ASCII only: a byte above 0x7f cannot be signed for S3
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*"))*\\s*$`)

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

/** `*`, or the entity tags of a list (RFC 9110 §8.8.3); undefined when the header is not valid (then it is ignored) */
export function entityTags (header: string): '*' | Array<{ weak: boolean, opaque: string }> | undefined {
  if (header.trim() === '*') return '*'
  const tags: Array<{ weak: boolean, opaque: string }> = []
  // etagc: !, #-~ and obs-text (bytes 0x80-0xFF, which Node hands over as Latin-1)
  const TAG = /^\s*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)/
  let rest = header
  while (rest.trim() !== '') {
    const match = TAG.exec(rest)
    if (match === null) return undefined
    tags.push({ weak: match[1] !== undefined, opaque: match[2] as string })
    rest = rest.slice(match[0].length)
    if (!match[0].trimEnd().endsWith(',') && rest.trim() !== '') return undefined
  }
  return tags.length > 0 ? tags : undefined
}

/** If-Match: strong comparison (§8.8.3.2), `*` matches any current object */
function strongMatch (header: string, etag: string): boolean | undefined {
  const tags = entityTags(header)
  if (tags === undefined) return undefined
  return tags === '*' || tags.some((t) => !t.weak && !etag.startsWith('W/') && t.opaque === etag)
}

/** If-None-Match: weak comparison, `*` matches any current object */
function weakMatch (header: string, etag: string): boolean | undefined {
  const tags = entityTags(header)
  if (tags === undefined) return undefined
  const own = etag.replace(/^W\//, '')
  return tags === '*' || tags.some((t) => t.opaque === own)
}
/** HTTP dates have whole seconds */
const seconds = (date: Date): number => Math.floor(date.getTime() / 1000)

/**
 * RFC 9110 §13.2.2, for GET and HEAD: 412 when If-Match (else
 * If-Unmodified-Since) fails, 304 when If-None-Match (else If-Modified-Since)
 * matches, 200 otherwise. An invalid entity-tag list or date is ignored.
 * S3 servers differ here (s3rver ignores If-Match, Ceph `*` and weak tags),
 * and a header value S3's signature cannot carry must never be sent on, so
 * the service evaluates every condition itself.
 */
export function evaluatePreconditions (object: Pick<ObjectInfo, 'etag' | 'lastModified'>, conditions: Conditions): 200 | 304 | 412 {
  const modified = object.lastModified !== undefined ? seconds(object.lastModified) : undefined
  const ifMatch = conditions.ifMatch !== undefined ? strongMatch(conditions.ifMatch, object.etag) : undefined
  if (ifMatch !== undefined) {
    if (!ifMatch) return 412
  } else if (conditions.ifUnmodifiedSince !== undefined && modified !== undefined && modified > seconds(conditions.ifUnmodifiedSince)) {
    return 412
  }
  const ifNoneMatch = conditions.ifNoneMatch !== undefined ? weakMatch(conditions.ifNoneMatch, object.etag) : undefined
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch) return 304
  } else if (conditions.ifModifiedSince !== undefined && modified !== undefined && modified <= seconds(conditions.ifModifiedSince)) {
    return 304
  }
  return 200
}

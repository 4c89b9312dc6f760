// Strict base64 in, streamed base64 out.
import { AppError } from '../errors.js'

const DATA_URI = /^data:([^,;]*)((?:;[^,;]*)*);base64,/i
const ALPHABET = /^[A-Za-z0-9+/]*$/
// characters whose unused low bits are zero, for the last symbol before "=" / "=="
const CANONICAL_BEFORE_ONE_PAD = /[AEIMQUYcgkosw048]/
const CANONICAL_BEFORE_TWO_PADS = /[AQgw]/

export interface DecodedBase64 {
  data: Buffer
  /** the MIME type of a `data:` URI prefix, if any */
  mimeType: string | undefined
}

function invalid (why: string): AppError {
  return new AppError('INVALID_BASE64', `file_base64 is not valid base64: ${why}`)
}

/** The decoded size of a (whitespace-free) base64 text, before decoding it. */
export function decodedLength (text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  return (text.length / 4) * 3 - padding
}

/**
 * Decode standard base64 (RFC 4648 §4) strictly: the alphabet, whole 4-character
 * groups, canonical padding. A `data:<mime>;base64,` prefix and whitespace
 * (line breaks) are accepted. Over `maxBytes` decoded → 413.
 */
export function decodeBase64Strict (input: string, maxBytes: number): DecodedBase64 {
  let text = input.trim()
  let mimeType: string | undefined
  const uri = DATA_URI.exec(text)
  if (uri !== null) {
    mimeType = (uri[1] ?? '') !== '' ? `${uri[1] ?? ''}${uri[2] ?? ''}`.toLowerCase() : undefined
    text = text.slice(uri[0].length)
  }
  text = text.replace(/\s+/g, '')
  if (text.length % 4 !== 0) throw invalid(`its length (${text.length} characters without whitespace) is not a multiple of 4`)
  const body = text.replace(/={1,2}$/, '')
  if (!ALPHABET.test(body)) {
    const bad = /[^A-Za-z0-9+/]/.exec(body)
    throw invalid(`unexpected character ${JSON.stringify(bad?.[0])} at position ${bad?.index ?? 0}`)
  }
  const pads = text.length - body.length
  const last = body.at(-1) ?? ''
  if ((pads === 1 && !CANONICAL_BEFORE_ONE_PAD.test(last)) || (pads === 2 && !CANONICAL_BEFORE_TWO_PADS.test(last))) {
    throw invalid('the bits after the last byte are not zero (non-canonical padding)')
  }
  const size = decodedLength(text)
  if (size > maxBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The decoded file is ${size} bytes, more than BASE64_MAX_BYTES (${maxBytes}); use /upload/file`)
  }
  return { data: Buffer.from(text, 'base64'), mimeType }
}

/** Base64 length of `size` bytes, with padding. */
export function encodedLength (size: number): number {
  return Math.ceil(size / 3) * 4
}

/**
 * Encode a byte stream as base64 text, chunk by chunk, into pieces that join
 * into one valid base64 text. Each chunk is encoded where it lies; only the
 * 1–2 bytes past its last multiple of 3 are carried into the next (copying
 * every chunk to prepend them cost a copy of every byte).
 */
export async function * encodeBase64 (source: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let carry = Buffer.alloc(0)
  for await (const chunk of source) {
    let text = ''
    let start = 0
    if (carry.length > 0) {
      start = Math.min(3 - carry.length, chunk.length)
      carry = Buffer.concat([carry, chunk.subarray(0, start)])
      if (carry.length < 3) continue
      text = carry.toString('base64')
      carry = Buffer.alloc(0)
    }
    const end = chunk.length - ((chunk.length - start) % 3)
    if (end > start) text += chunk.toString('base64', start, end)
    if (end < chunk.length) carry = Buffer.from(chunk.subarray(end))
    if (text !== '') yield text
  }
  if (carry.length > 0) yield carry.toString('base64')
}

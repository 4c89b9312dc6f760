// Strict base64 in, streamed base64 out.
import { AppError } from '../errors.js'
import { blocks } from './blocks.js'

export const DATA_URI = /^data:([^,;]*)((?:;[^,;]*)*);base64,/i
const ALPHABET = /^[A-Za-z0-9+/]*$/
// characters whose unused low bits are zero, for the last symbol before "=" / "=="
const CANONICAL_BEFORE_ONE_PAD = /[AEIMQUYcgkosw048]/
const CANONICAL_BEFORE_TWO_PADS = /[AQgw]/

export interface DecodedBase64 {
  data: Buffer
  /** the MIME type of a `data:` URI prefix, if any */
  mimeType: string | undefined
}

export function invalidBase64 (why: string): AppError {
  return new AppError('INVALID_BASE64', `file_base64 is not valid base64: ${why}`)
}

/** the MIME type a `data:` prefix names, if any */
export function mimeTypeOf (uri: RegExpExecArray): string | undefined {
  return (uri[1] ?? '') !== '' ? `${uri[1] ?? ''}${uri[2] ?? ''}`.toLowerCase() : undefined
}

/** whether the padded last group of a text has zero bits after its last byte */
export function canonicalPadding (group: string): boolean {
  const body = group.replace(/={1,2}$/, '')
  const last = body.at(-1) ?? ''
  const pads = group.length - body.length
  return (pads !== 1 || CANONICAL_BEFORE_ONE_PAD.test(last)) && (pads !== 2 || CANONICAL_BEFORE_TWO_PADS.test(last))
}

/** more than `maxBytes` decoded (`size` when known) */
export function base64TooLarge (maxBytes: number, size?: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `The decoded file is ${size !== undefined ? `${size} bytes, ` : ''}more than BASE64_MAX_BYTES (${maxBytes}); use /upload/file`)
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
    mimeType = mimeTypeOf(uri)
    text = text.slice(uri[0].length)
  }
  text = text.replace(/\s+/g, '')
  if (text.length % 4 !== 0) throw invalidBase64(`its length (${text.length} characters without whitespace) is not a multiple of 4`)
  const body = text.replace(/={1,2}$/, '')
  if (!ALPHABET.test(body)) {
    const bad = /[^A-Za-z0-9+/]/.exec(body)
    throw invalidBase64(`unexpected character ${JSON.stringify(bad?.[0])} at position ${bad?.index ?? 0}`)
  }
  if (!canonicalPadding(text.slice(-4))) throw invalidBase64('the bits after the last byte are not zero (non-canonical padding)')
  const size = decodedLength(text)
  if (size > maxBytes) throw base64TooLarge(maxBytes, size)
  return { data: Buffer.from(text, 'base64'), mimeType }
}

/** Base64 length of `size` bytes, with padding. */
export function encodedLength (size: number): number {
  return Math.ceil(size / 3) * 4
}

/**
 * bytes encoded per piece: a multiple of 3, so that pieces join without
 * padding, and small enough that a piece (64 KiB of text) stays a young V8
 * string (768 KiB blocks made 1 MiB strings: twice the CPU and 160 MiB peak)
 */
export const BASE64_BLOCK = 48 * 1024

/**
 * Encode a byte stream as base64 text in pieces that join into one valid
 * base64 text. Chunks are copied into one reused block of BASE64_BLOCK bytes
 * and each full block is encoded at once, whatever sizes the chunks come in
 * (no carry of 1–2 bytes between chunks, no piece per tiny chunk).
 */
export async function * encodeBase64 (source: AsyncIterable<Buffer>, blockSize = BASE64_BLOCK): AsyncGenerator<string> {
  if (blockSize <= 0 || blockSize % 3 !== 0) throw new RangeError(`encodeBase64: the block size must be a positive multiple of 3, not ${blockSize}`)
  const block = Buffer.allocUnsafe(blockSize)
  for await (const { data, bytes } of blocks(source, blockSize, () => block)) yield data.toString('base64', 0, bytes)
}

// Strict base64 decoded as its text arrives, in pieces of any size: the rules
// of decodeBase64Strict() (base64.ts) — the standard alphabet, whole
// 4-character groups, canonical padding, a `data:<mime>;base64,` prefix and
// whitespace accepted, a decoded-size limit — checked piece by piece, so that
// a body never has to be held whole to be refused.
import { canonicalPadding, DATA_URI, invalidBase64, mimeTypeOf } from './base64.js'

/** the longest `data:<mime>;<params>;base64,` prefix waited for */
const PREFIX_MAX = 1024
const OUTSIDE_ALPHABET = /[^A-Za-z0-9+/=]/
const WHITESPACE = /\s+/g
const HAS_WHITESPACE = /\s/

export class Base64Decoder {
  /** decoded bytes so far */
  bytes = 0
  /** the MIME type of a `data:` prefix, once the prefix is read */
  mimeType: string | undefined
  /** the text's first characters, until it is known whether a data: prefix starts it */
  private head: string | undefined = ''
  /** symbols not yet decoded: an incomplete group, or the padded last one */
  private carry = ''
  /** symbols seen (whitespace removed), for error positions */
  private position = 0
  /** the position of the first "=" */
  private padAt: number | undefined

  /** `tooLarge(bytes)`: the error for more than `maxBytes` decoded */
  constructor (private readonly maxBytes: number, private readonly tooLarge: (bytes: number) => Error) {}

  /** decode a piece of the text; answers the bytes it completes */
  write (piece: string): Buffer | undefined {
    if (this.head === undefined) return this.symbols(piece)
    this.head += piece
    const text = this.head.trimStart()
    const maybePrefix = text.length < 5 ? 'data:'.startsWith(text.toLowerCase()) : /^data:/i.test(text) && !text.includes(',') && text.length < PREFIX_MAX
    if (maybePrefix) return undefined
    return this.settle(text)
  }

  /** the text is over: its last bytes, or the error of an incomplete or wrongly padded text */
  end (): Buffer {
    const rest = this.head !== undefined ? this.settle(this.head.trim()) : undefined
    const total = this.position
    if (total % 4 !== 0) throw invalidBase64(`its length (${total} characters without whitespace) is not a multiple of 4`)
    const group = this.carry
    this.carry = ''
    if (group.includes('=') && !canonicalPadding(group)) throw invalidBase64('the bits after the last byte are not zero (non-canonical padding)')
    const last = group === '' ? Buffer.alloc(0) : this.decoded(group)
    return rest === undefined || rest.length === 0 ? last : Buffer.concat([rest, last])
  }

  private settle (text: string): Buffer | undefined {
    this.head = undefined
    const uri = DATA_URI.exec(text)
    if (uri === null) return this.symbols(text)
    this.mimeType = mimeTypeOf(uri)
    return this.symbols(text.slice(uri[0].length))
  }

  private symbols (piece: string): Buffer | undefined {
    // most texts have no line breaks: no copy then
    const text = HAS_WHITESPACE.test(piece) ? piece.replace(WHITESPACE, '') : piece
    if (text.length === 0) return undefined
    const bad = OUTSIDE_ALPHABET.exec(text)
    if (bad !== null) throw invalidBase64(`unexpected character ${JSON.stringify(bad[0])} at position ${this.position + bad.index}`)
    const start = this.position
    this.position += text.length
    const pad = text.indexOf('=')
    if (this.padAt === undefined && pad !== -1) this.padAt = start + pad
    if (this.padAt !== undefined) {
      // only "=" after the first "=", at most two of them
      const after = this.padAt < start ? text : text.slice(pad)
      if (/[^=]/.test(after) || this.position - this.padAt > 2) throw invalidBase64(`unexpected character "=" at position ${this.padAt}`)
    }
    const symbols = this.carry === '' ? text : this.carry + text
    // whole groups go out; an incomplete one, or the one the padding is in, waits
    const ready = this.padAt === undefined
      ? symbols.length - (symbols.length % 4)
      : Math.floor((symbols.length - (this.position - this.padAt)) / 4) * 4
    this.carry = symbols.slice(ready)
    return ready === 0 ? undefined : this.decoded(symbols.slice(0, ready))
  }

  private decoded (symbols: string): Buffer {
    const data = Buffer.from(symbols, 'base64')
    this.bytes += data.length
    if (this.bytes > this.maxBytes) throw this.tooLarge(this.bytes)
    return data
  }
}

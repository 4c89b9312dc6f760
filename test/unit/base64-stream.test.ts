// The streaming base64 decoder against the whole-text one: for any text (valid
// or not) cut into any pieces, the same bytes, the same MIME type, or an error
// with the same code (or, for a text both too large and malformed, either
// fault's).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AppError } from '../../src/errors.js'
import { base64TooLarge, decodeBase64Strict } from '../../src/transfer/base64.js'
import { Base64Decoder } from '../../src/transfer/base64-stream.js'

type Outcome = { ok: true, data: string, mimeType: string | undefined } | { ok: false, code: string }

function whole (text: string, max: number): Outcome {
  try {
    const { data, mimeType } = decodeBase64Strict(text, max)
    return { ok: true, data: data.toString('hex'), mimeType }
  } catch (err) {
    return { ok: false, code: (err as AppError).code }
  }
}

function streamed (pieces: string[], max: number): Outcome {
  const decoder = new Base64Decoder(max, () => base64TooLarge(max))
  const out: Buffer[] = []
  try {
    for (const piece of pieces) {
      const bytes = decoder.write(piece)
      if (bytes !== undefined) out.push(bytes)
    }
    out.push(decoder.end())
    return { ok: true, data: Buffer.concat(out).toString('hex'), mimeType: decoder.mimeType }
  } catch (err) {
    assert.ok(err instanceof AppError, `an AppError, not ${String(err)}`)
    return { ok: false, code: err.code }
  }
}

/** `text` cut at `cuts` (positions, any order) */
function cut (text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  const pieces: string[] = []
  let last = 0
  for (const c of at) {
    pieces.push(text.slice(last, c))
    last = c
  }
  pieces.push(text.slice(last))
  return pieces
}

const valid = fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('base64'))
const prefix = fc.constantFrom('', '', 'data:text/plain;base64,', 'DATA:image/PNG;charset=x;base64,', 'data:;base64,', ' \n', 'data:image/png;base64')
const noise = fc.constantFrom('', '', '', '\n', '\r\n ', '=', '==', '!', '-', '_', 'A', 'AB', '\u00e9', 'a=b')
const text = fc.tuple(prefix, valid, noise, fc.nat(60), noise, fc.constantFrom('', ' ', '\n')).map(([p, v, n1, at, n2, tail]) => {
  const i = at % (v.length + 1)
  return `${p}${v.slice(0, i)}${n1}${v.slice(i)}${n2}${tail}`
})

describe('streaming base64 decoder', () => {
  it('agrees with the whole-text decoder on any text in any pieces (fast-check, 3000 texts)', () => {
    fc.assert(fc.property(text, fc.array(fc.nat(80), { maxLength: 6 }), fc.constantFrom(10, 30, 1000), (input, cuts, max) => {
      const expected = whole(input, max)
      const actual = streamed(cut(input, cuts), max)
      const why = `${JSON.stringify(input)} in ${JSON.stringify(cut(input, cuts))}`
      // a text both too large and malformed: the stream meets whichever fault comes first
      if (!expected.ok && !actual.ok && [expected.code, actual.code].includes('PAYLOAD_TOO_LARGE')) return
      assert.deepEqual(actual, expected, why)
    }), { numRuns: 3000 })
  })

  it('decodes 3 MiB in 1–70 000-character pieces to the same bytes, and counts them', () => {
    const data = randomBytes(3 * 1024 * 1024 + 1)
    const encoded = data.toString('base64').replace(/(.{76})/g, '$1\n')
    const decoder = new Base64Decoder(data.length, () => base64TooLarge(data.length))
    const out: Buffer[] = []
    for (let at = 0, n = 1; at < encoded.length; n = (n * 7919) % 70_000 + 1) {
      const bytes = decoder.write(encoded.slice(at, at + n))
      if (bytes !== undefined) out.push(bytes)
      at += n
    }
    out.push(decoder.end())
    assert.ok(Buffer.concat(out).equals(data))
    assert.equal(decoder.bytes, data.length)
  })

  it('fails as soon as the decoded bytes pass the limit, before the text ends', () => {
    const decoder = new Base64Decoder(6, () => base64TooLarge(6))
    assert.deepEqual(decoder.write('AAAA'), Buffer.alloc(3))
    assert.throws(() => decoder.write('AAAAAAAA'), (err: AppError) => err.code === 'PAYLOAD_TOO_LARGE')
  })
})

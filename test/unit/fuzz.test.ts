// Property-based fuzzing (fast-check) of the three places where untrusted
// text turns into decisions: key validation, base64 decoding, parameter
// coercion. Whatever the input, the answer is a value that keeps the rules,
// or an AppError with the right code — never another exception.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AppError } from '../../src/errors.js'
import { Params } from '../../src/params.js'
import { MAX_KEY_BYTES, resolveObjectKey } from '../../src/s3/keys.js'
import { decodeBase64Strict, encodeBase64 } from '../../src/transfer/base64.js'

const RUNS = { numRuns: 2000 }

/** run `f`; an exception must be an AppError with one of `codes` */
function outcome<T> (f: () => T, codes: string[]): T | AppError {
  try {
    return f()
  } catch (err) {
    assert.ok(err instanceof AppError, `not an AppError: ${String(err)}`)
    assert.ok(codes.includes(err.code), `code ${err.code}`)
    return err
  }
}

// strings rich in what breaks things: slashes, dots, controls, surrogates, multi-byte characters
const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: fc.constantFrom('/', '.', '..', 'a', '\u0000', '\n', '\u007f', '\u0085', '\ud800', '\udfff', 'é', '€', '😀', ' ', '%2e'), maxLength: 600 }),
  fc.string({ unit: 'grapheme', minLength: 300, maxLength: 700 })
)

describe('fuzzing', () => {
  it('resolveObjectKey: accepts only keys that keep the rules, refuses the rest with INVALID_KEY / MISSING_KEY', () => {
    fc.assert(fc.property(fc.array(fc.option(hostileText, { nil: undefined }), { maxLength: 3 }), fc.constantFrom('', 'tenant-a', 'deep/prefix'), (candidates, prefix) => {
      const result = outcome(() => resolveObjectKey(candidates, prefix), ['INVALID_KEY', 'MISSING_KEY'])
      if (result instanceof AppError) return
      assert.ok(result.key.length > 0)
      assert.ok(!result.key.startsWith('/'))
      assert.ok(!/\p{Cc}/u.test(result.key) && !/\p{Cs}/u.test(result.key))
      assert.ok(result.key.split('/').every((s) => s !== '.' && s !== '..'))
      assert.ok(Buffer.byteLength(result.storedKey) <= MAX_KEY_BYTES)
      assert.equal(result.storedKey, prefix === '' ? result.key : `${prefix}/${result.key}`)
      // what is stored reads back as the same text (well-formed UTF-8)
      assert.equal(Buffer.from(result.storedKey, 'utf8').toString('utf8'), result.storedKey)
    }), RUNS)
  })

  it('decodeBase64Strict: round-trips any bytes, in any line wrapping, with or without a data: prefix', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 80 }), fc.boolean(), (bytes, wrap, prefixed) => {
      let text = Buffer.from(bytes).toString('base64')
      if (wrap > 0) text = text.replace(new RegExp(`(.{${wrap}})`, 'g'), '$1\r\n')
      if (prefixed) text = `data:application/pdf;base64,${text}`
      const decoded = decodeBase64Strict(text, 1_000_000)
      assert.deepEqual(decoded.data, Buffer.from(bytes))
      assert.equal(decoded.mimeType, prefixed ? 'application/pdf' : undefined)
    }), RUNS)
  })

  it('decodeBase64Strict: any other text is INVALID_BASE64 or PAYLOAD_TOO_LARGE, and what it accepts is canonical', () => {
    fc.assert(fc.property(hostileText, fc.integer({ min: 0, max: 600 }), (text, max) => {
      const result = outcome(() => decodeBase64Strict(text, max), ['INVALID_BASE64', 'PAYLOAD_TOO_LARGE'])
      if (result instanceof AppError) return
      assert.ok(result.data.length <= max)
      const body = text.trim().replace(/^data:[^,]*;base64,/i, '').replace(/\s+/g, '')
      assert.equal(result.data.toString('base64'), body, 'accepted text is exactly the canonical encoding')
    }), RUNS)
  })

  it('encodeBase64: any chunking of a stream encodes to the one-shot base64', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.integer({ min: 1, max: 400 }), async (chunks, thirds) => {
      let text = ''
      for await (const piece of encodeBase64(Readable.from(chunks.map((c) => Buffer.from(c))), thirds * 3)) text += piece
      assert.equal(text, Buffer.concat(chunks.map((c) => Buffer.from(c))).toString('base64'))
    }), { numRuns: 500 })
  })

  it('Params: booleans, integers, expiries and strings coerce or refuse with INVALID_PARAMETER, whatever the JSON value', () => {
    const anyJson = fc.oneof(fc.jsonValue(), hostileText, fc.constantFrom('true', 'FALSE', ' yes ', '0', '1', '-0', '1e3', '0x10', '12 ', '', null))
    fc.assert(fc.property(anyJson, anyJson, (bodyValue, queryValue) => {
      const params = new Params({ v: bodyValue }, { v: queryValue })
      const bool = outcome(() => params.boolean('v'), ['INVALID_PARAMETER'])
      if (!(bool instanceof AppError)) assert.ok(bool === undefined || typeof bool === 'boolean')
      const int = outcome(() => params.integer('v'), ['INVALID_PARAMETER'])
      if (!(int instanceof AppError)) assert.ok(int === undefined || Number.isSafeInteger(int))
      const expiry = outcome(() => params.expiry(3600, 604800, 'v'), ['INVALID_PARAMETER'])
      if (!(expiry instanceof AppError)) assert.ok(expiry >= 1 && expiry <= 604800)
      const str = outcome(() => params.string('v'), ['INVALID_PARAMETER'])
      if (!(str instanceof AppError)) assert.ok(str === undefined || (typeof str === 'string' && str !== ''))
      const typed = new Params({ content_type: bodyValue, sha256: queryValue })
      const sum = outcome(() => typed.sha256(), ['INVALID_PARAMETER'])
      if (!(sum instanceof AppError)) assert.ok(sum === undefined || /^[0-9a-f]{64}$/.test(sum))
      const type = outcome(() => typed.contentType(), ['INVALID_PARAMETER'])
      if (!(type instanceof AppError)) assert.ok(type === undefined || (!/[\r\n]/.test(type) && !type.includes('\u0000') && type.includes('/')))
    }), RUNS)
  })
})

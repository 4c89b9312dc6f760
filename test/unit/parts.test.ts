// Pure pieces of the contract: keys, base64, headers, parameter coercion.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { attachmentDisposition, evaluatePreconditions, singleByteRange, storedContentType } from '../../src/http/headers.js'
import { Params } from '../../src/params.js'
import { resolveObjectKey } from '../../src/s3/keys.js'
import { BASE64_BLOCK, decodeBase64Strict, encodeBase64 } from '../../src/transfer/base64.js'

const codeOf = (fn: () => unknown): string | undefined => {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

describe('resolveObjectKey', () => {
  it('follows s3_key > filename > part filename, strips leading slashes, prefixes', () => {
    assert.deepEqual(resolveObjectKey(['a.txt', 'b.txt', 'c.txt'], ''), { key: 'a.txt', storedKey: 'a.txt' })
    assert.deepEqual(resolveObjectKey([undefined, '', 'c.txt'], ''), { key: 'c.txt', storedKey: 'c.txt' })
    assert.deepEqual(resolveObjectKey(['//x/y'], 'p'), { key: 'x/y', storedKey: 'p/x/y' })
    assert.equal(codeOf(() => resolveObjectKey([undefined, ''], '')), 'MISSING_KEY')
  })

  it('rejects empty, control characters, dot segments, and stored keys over 1024 bytes', () => {
    for (const bad of ['/', 'a\u0000b', 'a\nb', 'a\u007fb', 'a\u0085b', 'a\ud800b', '\udfff', '.', '..', 'a/./b', 'a/..', 'é'.repeat(513)]) {
      assert.equal(codeOf(() => resolveObjectKey([bad], '')), 'INVALID_KEY', JSON.stringify(bad))
    }
    assert.equal(codeOf(() => resolveObjectKey(['k'.repeat(1024)], '')), undefined)
    assert.equal(codeOf(() => resolveObjectKey(['k'.repeat(1022)], 'pp')), 'INVALID_KEY')
    for (const fine of ['a..b', '.hidden', 'dir/ü (1)+x&y.txt', 'a//b', '...', 'emoji 😀.png']) assert.equal(codeOf(() => resolveObjectKey([fine], '')), undefined, fine)
  })
})

describe('decodeBase64Strict', () => {
  it('decodes canonical base64, with a data: URI and whitespace', () => {
    assert.equal(decodeBase64Strict('aGVsbG8=', 100).data.toString(), 'hello')
    assert.deepEqual(decodeBase64Strict(' data:text/plain;charset=utf-8;base64,aGVs\nbG8= ', 100), { data: Buffer.from('hello'), mimeType: 'text/plain;charset=utf-8' })
    assert.equal(decodeBase64Strict('', 100).data.length, 0)
  })

  it('round-trips every length 0..300 of every byte pattern', () => {
    for (let n = 0; n <= 300; n++) {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff))
      assert.deepEqual(decodeBase64Strict(data.toString('base64'), 1000).data, data)
    }
  })

  it('refuses what is not strict base64', () => {
    for (const bad of ['a', 'aGVsbG8', 'aGVs bG8', 'aGVsbG8*', 'aG==bG8=', 'aGk_', '====', 'aGk==', 'aR==', 'aGl=']) {
      if (bad === 'aGVs bG8') continue // whitespace is accepted; length 7 is not
      assert.equal(codeOf(() => decodeBase64Strict(bad, 100)), 'INVALID_BASE64', bad)
    }
  })

  it('answers 413 from the decoded size before decoding', () => {
    assert.equal(codeOf(() => decodeBase64Strict('AAAA', 2)), 'PAYLOAD_TOO_LARGE')
    assert.equal(codeOf(() => decodeBase64Strict('AAAA', 3)), undefined)
  })
})

describe('encodeBase64', () => {
  it('joins chunk encodings into the whole encoding, whatever the chunk boundaries', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff))
    for (const sizes of [[1], [2], [3], [5, 7], [1000], [999, 1]]) {
      const chunks: Buffer[] = []
      for (let offset = 0, i = 0; offset < data.length; i++) {
        const size = sizes[i % sizes.length] ?? 1
        chunks.push(data.subarray(offset, offset + size))
        offset += size
      }
      for (const block of [3, 6, 300, 999, 1002, BASE64_BLOCK]) {
        let text = ''
        for await (const piece of encodeBase64((async function * () { yield * chunks })(), block)) text += piece
        assert.equal(text, data.toString('base64'), `chunks ${JSON.stringify(sizes)}, block ${block}`)
      }
    }
  })

  it('encodes a block as one piece once it is full, and refuses a block size that is not a multiple of 3', async () => {
    const pieces: string[] = []
    for await (const piece of encodeBase64((async function * () { yield Buffer.alloc(7, 1); yield Buffer.alloc(5, 2) })(), 6)) pieces.push(piece)
    assert.deepEqual(pieces.map((p) => p.length), [8, 8], '12 bytes in blocks of 6: two pieces of 8 characters')
    await assert.rejects(async () => { for await (const piece of encodeBase64((async function * () { yield Buffer.alloc(1) })(), 4)) assert.fail(piece) }, RangeError)
  })
})

describe('headers', () => {
  it('builds an RFC 6266 attachment disposition with an ASCII fallback and filename*', () => {
    assert.equal(attachmentDisposition('a/b/report.pdf'), 'attachment; filename="report.pdf"; filename*=UTF-8\'\'report.pdf')
    assert.equal(attachmentDisposition('x/"quoted"\\name%.txt'), 'attachment; filename="_quoted__name_.txt"; filename*=UTF-8\'\'%22quoted%22%5Cname%25.txt')
    assert.equal(attachmentDisposition('日本.txt'), 'attachment; filename="__.txt"; filename*=UTF-8\'\'%E6%97%A5%E6%9C%AC.txt')
  })

  it('keeps single syntactically valid ranges only', () => {
    assert.equal(singleByteRange('bytes=0-99'), 'bytes=0-99')
    assert.equal(singleByteRange('bytes=10-'), 'bytes=10-')
    assert.equal(singleByteRange('bytes=-5'), 'bytes=-5')
    assert.equal(singleByteRange('Bytes = 1 - 2'), 'bytes=1-2')
    for (const ignored of [undefined, 'bytes=', 'bytes=-', 'bytes=5-1', 'bytes=0-1,3-4', 'bytes=a-b', 'lines=1-2', 'bytes=-0']) {
      assert.equal(singleByteRange(ignored), undefined, String(ignored))
    }
  })

  it('chooses the stored Content-Type: explicit > informative sent type > guess > none (the upload sniffs)', () => {
    assert.equal(storedContentType('text/csv', 'image/png', 'a.json'), 'text/csv')
    assert.equal(storedContentType(undefined, 'image/png', 'a.json'), 'image/png')
    assert.equal(storedContentType(undefined, 'application/x-www-form-urlencoded', 'a.json'), 'application/json')
    assert.equal(storedContentType(undefined, 'application/octet-stream', 'a.pdf'), 'application/pdf')
    assert.equal(storedContentType(undefined, 'multipart/form-data; boundary=x', 'a'), undefined)
    assert.equal(storedContentType(undefined, undefined, 'noext'), undefined)
  })

  it('evaluates preconditions in RFC 9110 order', () => {
    const object = { etag: '"abc"', lastModified: new Date('2026-01-01T00:00:00Z') }
    const before = new Date('2025-12-31T00:00:00Z')
    const after = new Date('2026-01-02T00:00:00Z')
    assert.equal(evaluatePreconditions(object, {}), 200)
    assert.equal(evaluatePreconditions(object, { ifMatch: '"abc"' }), 200)
    assert.equal(evaluatePreconditions(object, { ifMatch: '"x", "abc"' }), 200)
    assert.equal(evaluatePreconditions(object, { ifMatch: '*' }), 200)
    assert.equal(evaluatePreconditions(object, { ifMatch: '"x"' }), 412)
    assert.equal(evaluatePreconditions(object, { ifMatch: '"abc"', ifUnmodifiedSince: before }), 200)
    assert.equal(evaluatePreconditions(object, { ifUnmodifiedSince: before }), 412)
    assert.equal(evaluatePreconditions(object, { ifUnmodifiedSince: after }), 200)
    assert.equal(evaluatePreconditions(object, { ifNoneMatch: 'W/"abc"' }), 304)
    assert.equal(evaluatePreconditions(object, { ifNoneMatch: '"x"', ifModifiedSince: after }), 200)
    assert.equal(evaluatePreconditions(object, { ifModifiedSince: after }), 304)
    assert.equal(evaluatePreconditions(object, { ifModifiedSince: object.lastModified }), 304)
    assert.equal(evaluatePreconditions(object, { ifModifiedSince: before }), 200)
    assert.equal(evaluatePreconditions(object, { ifMatch: '"x"', ifNoneMatch: '"abc"' }), 412)
  })
})

describe('Params', () => {
  it('lets the body win over the query and treats "" as absent', () => {
    const p = new Params({ s3_key: '', filename: 'body' }, { s3_key: 'query', filename: 'q' })
    assert.equal(p.string('s3_key'), 'query')
    assert.equal(p.string('filename'), 'body')
  })

  it('coerces booleans and integers, refusing the rest', () => {
    for (const [value, expected] of [['true', true], ['YES', true], ['1', true], [1, true], [true, true], ['no', false], ['0', false], [false, false]] as const) {
      assert.equal(new Params({ b: value }).boolean('b'), expected, String(value))
    }
    assert.equal(codeOf(() => new Params({ b: 'maybe' }).boolean('b')), 'INVALID_PARAMETER')
    assert.equal(new Params({ n: ' 42 ' }).integer('n'), 42)
    assert.equal(new Params({ n: 7 }).integer('n'), 7)
    for (const bad of ['4.5', '1e3', 'x', 4.5, '99999999999999999999']) assert.equal(codeOf(() => new Params({ n: bad }).integer('n')), 'INVALID_PARAMETER', String(bad))
  })

  it('reads aliases and bounds the presign expiry', () => {
    assert.equal(new Params({ generate_presign_url: 'yes', presign_expiry: '60' }).presign(3600, 604800), 60)
    assert.equal(new Params({ generate_presigned_url: 'no' }).presign(3600, 604800), undefined)
    assert.equal(new Params({ generate_presigned_url: true }).presign(3600, 604800), 3600)
    assert.equal(codeOf(() => new Params({ presigned_expiration: '604801' }).presign(3600, 604800)), 'INVALID_PARAMETER')
  })
})

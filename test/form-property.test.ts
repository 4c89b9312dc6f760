// Generated forms (fast-check) against POST /upload/files, each checked
// against the bucket: hostile field and part names (__proto__, constructor,
// hasOwnProperty, …) in every position, files over the upload limit, more
// fields or files than the limits allow, and bodies cut short inside a part.
// The rule (API.md Part 2 "Several files in one form"): a file part is stored
// when everything before it was good and it was whole and within the limit;
// nothing after the first fault is stored; a form that stored nothing is
// answered 4xx; a form that stored something is answered 201 listing exactly
// those files and reporting what failed. No unfinished multipart upload stays.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import fc from 'fast-check'
import { countUnfinishedUploads, eventually, startGateway, startTestS3, uniqueKey, type Gateway, type TestS3 } from './helper.js'
import { send } from './http.js'

const LIMIT = 16 * 1024
const BOUNDARY = 'PropertyBoundary7MA4YWxkTrZu0gW'
const HOSTILE = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__']

type Part =
  | { kind: 'field', name: string, value: string }
  | { kind: 'hostile-field', name: string }
  | { kind: 'file', size: number }
  | { kind: 'big-file', size: number }
  | { kind: 'hostile-file', name: string }
  | { kind: 'many-fields' }

const part: fc.Arbitrary<Part> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('field' as const), name: fc.constantFrom('note', 'tag', 'meta', 'x'), value: fc.string({ maxLength: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hostile-field' as const), name: fc.constantFrom(...HOSTILE) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('file' as const), size: fc.integer({ min: 0, max: 6000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('big-file' as const), size: fc.integer({ min: LIMIT + 1, max: LIMIT + 5000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hostile-file' as const), name: fc.constantFrom(...HOSTILE) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'many-fields' as const }) }
)

interface Built {
  body: Buffer
  /** per part: where its header starts and where its data starts, and the filename/content of file parts */
  layout: Array<{ part: Part, start: number, dataStart: number, dataEnd: number, filename?: string, content?: Buffer, fields: number, files: number }>
}

function build (prefix: string, parts: Part[], seed: number): Built {
  const chunks: Buffer[] = []
  let length = 0
  const add = (b: Buffer | string): void => { const buf = Buffer.isBuffer(b) ? b : Buffer.from(b); chunks.push(buf); length += buf.length }
  const layout: Built['layout'] = []
  const section = (disposition: string, data: Buffer, type?: string): { start: number, dataStart: number, dataEnd: number } => {
    const start = length
    add(`--${BOUNDARY}\r\nContent-Disposition: form-data; ${disposition}\r\n${type !== undefined ? `Content-Type: ${type}\r\n` : ''}\r\n`)
    const dataStart = length
    add(data)
    const dataEnd = length
    add('\r\n')
    return { start, dataStart, dataEnd }
  }
  section('name="prefix"', Buffer.from(prefix))
  let n = 0
  for (const p of parts) {
    n++
    if (p.kind === 'field') layout.push({ part: p, ...section(`name="${p.name}"`, Buffer.from(p.value)), fields: 1, files: 0 })
    else if (p.kind === 'hostile-field') layout.push({ part: p, ...section(`name="${p.name}"`, Buffer.from('x')), fields: 1, files: 0 })
    else if (p.kind === 'many-fields') {
      const at = length
      for (let i = 0; i < 65; i++) section(`name="f${i}"`, Buffer.from('v'))
      layout.push({ part: p, start: at, dataStart: at, dataEnd: length, fields: 65, files: 0 })
    } else {
      const filename = `f${n}-${seed}.bin`
      const content = Buffer.alloc(p.kind === 'hostile-file' ? 10 : p.size, (n * 31 + seed) % 251)
      const name = p.kind === 'hostile-file' ? p.name : 'files'
      layout.push({ part: p, ...section(`name="${name}"; filename="${filename}"`, content, 'application/octet-stream'), filename, content, fields: 0, files: 1 })
    }
  }
  add(`--${BOUNDARY}--\r\n`)
  return { body: Buffer.concat(chunks), layout }
}

describe('generated forms against /upload/files: the bucket matches every answer', { timeout: 300_000 }, () => {
  let s3: TestS3
  let gw: Gateway
  before(async () => {
    s3 = await startTestS3()
    gw = await startGateway(s3, { MAX_UPLOAD_BYTES: String(LIMIT) })
  })
  after(async () => {
    await gw?.close()
    await s3?.close()
  })

  it('stores exactly the good files before the first fault, and says so', async () => {
    let runs = 0
    await fc.assert(fc.asyncProperty(fc.array(part, { minLength: 1, maxLength: 8 }), fc.option(fc.nat(), { nil: undefined }), fc.nat(), async (parts, cutSeed, seed) => {
      runs++
      const prefix = uniqueKey('prop')
      const { body, layout } = build(prefix, parts, seed)
      // the cut: inside a part's headers or data, so that it is exact which parts were whole
      let cutIndex: number | undefined
      let sent = body
      if (cutSeed !== undefined && layout.length > 0) {
        cutIndex = cutSeed % layout.length
        const target = layout[cutIndex] as Built['layout'][number]
        const inData = target.dataEnd - target.dataStart >= 2 && cutSeed % 2 === 0
        // in its headers: past its whole boundary line, which is what ends the part before it
        const cutAt = inData ? target.dataStart + Math.floor((target.dataEnd - target.dataStart) / 2) : target.start + `--${BOUNDARY}\r\n`.length + 10
        sent = body.subarray(0, cutAt)
      }

      // the oracle
      let fault = cutIndex ?? layout.length
      let fields = 1
      let files = 0
      for (const [i, entry] of layout.entries()) {
        if (i >= fault) break
        if (entry.part.kind === 'hostile-field' || entry.part.kind === 'hostile-file') { fault = i; break }
        if (fields + entry.fields > 64 || files + entry.files > 16) { fault = i; break }
        fields += entry.fields
        files += entry.files
      }
      const faulty = fault < layout.length
      const before = layout.slice(0, fault).filter((e) => e.filename !== undefined)
      const stored = before.filter((e) => e.part.kind === 'file')
      const tooLarge = before.filter((e) => e.part.kind === 'big-file')

      const answer = await send(`${gw.url}/upload/files`, { headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': sent.length }, chunks: [sent] })
      const text = answer.body.toString()
      const json = JSON.parse(text) as { code?: string, files?: Array<{ key: string, size: number }>, failed?: Array<{ filename: string | null, code: string }> }
      const what = `${JSON.stringify(parts.map((p) => p.kind + ('name' in p ? `:${p.name}` : '') + ('size' in p ? `:${p.size}` : '')))} cut ${String(cutIndex)}: ${answer.status} ${text.slice(0, 400)}`
      // a form that broke before storing anything, or that had no file part, is refused;
      // a good form answers 201 even when each of its files failed alone (failed lists them)
      if ((faulty && stored.length === 0) || (!faulty && before.length === 0)) {
        assert.ok(answer.status >= 400 && answer.status < 500, `nothing stored, so a 4xx: ${what}`)
        assert.equal(typeof json.code, 'string', what)
      } else {
        assert.equal(answer.status, 201, what)
        assert.deepEqual((json.files ?? []).map((f) => f.key).sort(), stored.map((e) => `${prefix}/${e.filename ?? ''}`).sort(), `the answer lists exactly what was stored: ${what}`)
        for (const e of tooLarge) assert.ok((json.failed ?? []).some((f) => f.filename === e.filename && f.code === 'PAYLOAD_TOO_LARGE'), `a file over the limit is a failed entry: ${what}`)
        if (faulty) assert.ok((json.failed ?? []).length > tooLarge.length, `the fault after the stored files is reported: ${what}`)
        else assert.equal((json.failed ?? []).length, tooLarge.length, what)
      }

      // the bucket, whatever the answer said
      const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/` }))
      const inBucket = new Map((listed.Contents ?? []).map((o) => [o.Key ?? '', o.Size ?? -1]))
      assert.deepEqual([...inBucket.keys()].sort(), stored.map((e) => `${prefix}/${e.filename ?? ''}`).sort(), `the bucket holds exactly the stored files: ${what}`)
      for (const e of stored) assert.equal(inBucket.get(`${prefix}/${e.filename ?? ''}`), e.content?.length, what)
      await eventually('no unfinished multipart upload', async () => await countUnfinishedUploads(s3, `${prefix}/`) === 0, 10_000)
    }), { numRuns: 60, seed: Number(process.env.FORM_PROPERTY_SEED ?? 20261201), endOnFailure: true })
    assert.equal(runs >= 60, true, `${runs} forms`)
  })
})

// Generated forms (fast-check) against POST /upload/files, each checked
// against the bucket: hostile field and part names (__proto__, constructor,
// hasOwnProperty, …) in every position, files over the upload limit, more
// fields or files than the limits allow, and bodies cut short inside a part.
// The rule (API.md Part 2 "Several files in one form"): a file part is stored
// when everything before it was good and it was whole and within the limit;
// nothing after the first fault is stored; a form that stored nothing is
// answered 4xx; a form that stored something is answered 201 listing exactly
// those files and reporting what failed. No unfinished multipart upload stays.
// The second run does it with files of 5–7 MiB beside the small ones, sent in
// 64 KiB writes, so that each large file is staged (src/s3/staged.ts) — its
// guess right as the form's last part, wrong before anything else — and
// checks every stored file byte for byte, and that nothing stays staged.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import fc from 'fast-check'
import { countUnfinishedUploads, eventually, objectBody, startGateway, startTestS3, uniqueKey, type Gateway, type TestS3 } from './helper.js'
import { send } from './http.js'

const BOUNDARY = 'PropertyBoundary7MA4YWxkTrZu0gW'
const HOSTILE = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__']

type Part =
  | { kind: 'field', name: string, value: string }
  | { kind: 'hostile-field', name: string }
  | { kind: 'file', size: number }
  | { kind: 'big-file', size: number }
  | { kind: 'hostile-file', name: string }
  | { kind: 'many-fields' }

const MiB = 1024 * 1024

/** the parts a form is made of: files up to `limit` bytes are within the upload limit, `large` ones are staged */
function partOf (limit: number, large: boolean): fc.Arbitrary<Part> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('field' as const), name: fc.constantFrom('note', 'tag', 'meta', 'x'), value: fc.string({ maxLength: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('hostile-field' as const), name: fc.constantFrom(...HOSTILE) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('file' as const), size: fc.integer({ min: 0, max: 6000 }) }) },
    ...(large ? [{ weight: 6, arbitrary: fc.record({ kind: fc.constant('file' as const), size: fc.integer({ min: 5 * MiB, max: limit }) }) }] : []),
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('big-file' as const), size: fc.integer({ min: limit + 1, max: limit + 5000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('hostile-file' as const), name: fc.constantFrom(...HOSTILE) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'many-fields' as const }) }
  )
}

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
      // bytes that differ from one offset to the next (and from zeros), so that a misplaced range shows
      const content = Buffer.alloc(p.kind === 'hostile-file' ? 10 : p.size)
      for (let i = 0; i < content.length; i++) content[i] = 1 + ((i * 7 + n * 31 + seed) % 251)
      const name = p.kind === 'hostile-file' ? p.name : 'files'
      layout.push({ part: p, ...section(`name="${name}"; filename="${filename}"`, content, 'application/octet-stream'), filename, content, fields: 0, files: 1 })
    }
  }
  add(`--${BOUNDARY}--\r\n`)
  return { body: Buffer.concat(chunks), layout }
}

interface Variant {
  what: string
  /** the upload limit of each file */
  limit: number
  /** files of 5 MiB to `limit` among the parts, each staged */
  large: boolean
  runs: number
  seed: number
}

const KEY = 'form-property-key-0123456789abcdef'

function generatedForms ({ what, limit, large, runs, seed: firstSeed }: Variant): void {
  describe(`generated forms against /upload/files, ${what}: the bucket matches every answer`, { timeout: 600_000 }, () => {
    let s3: TestS3
    let gw: Gateway
    before(async () => {
      s3 = await startTestS3()
      if (!large) {
        gw = await startGateway(s3, { MAX_UPLOAD_BYTES: String(limit) })
        return
      }
      // the limit is the key's (max_upload_bytes), per file; MAX_UPLOAD_BYTES, which also bounds the whole request, stays high
      const file = join(mkdtempSync(join(tmpdir(), 'gw-property-')), 'keys.yaml')
      writeFileSync(file, ['keys:', '  - name: forms', `    key: ${KEY}`, '    permissions: [read, write, list]', `    max_upload_bytes: ${limit}`, ''].join('\n'))
      gw = await startGateway(s3, { API_KEYS_FILE: file, UPLOAD_GUESS_MAX_MIB: '1', UPLOAD_GUESS_MIB: '2' })
    })
    after(async () => {
      await gw?.close()
      await s3?.close()
    })

    it('stores exactly the good files before the first fault, and says so', async () => {
      let made = 0
      /** large files the forms stored, and the store's guesses before the runs */
      let largeStored = 0
      const guessed = { ...gw.app.store.guesses }
      await fc.assert(fc.asyncProperty(fc.array(partOf(limit, large), { minLength: 1, maxLength: large ? 5 : 8 }), large ? fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.nat() }) : fc.option(fc.nat(), { nil: undefined }), fc.nat(), async (parts, cutSeed, seed) => {
        made++
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
        largeStored += stored.filter((e) => (e.content?.length ?? 0) >= 5 * MiB).length
        const tooLarge = before.filter((e) => e.part.kind === 'big-file')

        const headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': sent.length, ...(large ? { authorization: `Bearer ${KEY}` } : {}) }
        // large forms in 64 KiB writes, as a client streams them: their files' lengths are guessed
        const chunks: Buffer[] = []
        for (let at = 0; at < sent.length; at += large ? 64 * 1024 : sent.length) chunks.push(sent.subarray(at, at + (large ? 64 * 1024 : sent.length)))
        const answer = await send(`${gw.url}/upload/files`, { headers, chunks })
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
        if (large) {
          for (const e of stored) assert.ok((await objectBody(s3, `${prefix}/${e.filename ?? ''}`))?.equals(e.content ?? Buffer.alloc(0)), `${e.filename ?? ''} byte for byte: ${what}`)
          const staging = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: '.gateway-staging/' }))
          assert.equal(staging.KeyCount ?? 0, 0, `nothing left staged: ${what}`)
        }
        await eventually('no unfinished multipart upload', async () => await countUnfinishedUploads(s3, `${prefix}/`) === 0, 10_000)
      }), { numRuns: runs, seed: Number(process.env.FORM_PROPERTY_SEED ?? firstSeed), endOnFailure: true })
      assert.equal(made >= runs, true, `${made} forms`)
      if (large) {
        // the runs took both ways of a staged guess: the file last, and something after it
        const right = gw.app.store.guesses.right - guessed.right
        const wrong = gw.app.store.guesses.wrong - guessed.wrong
        assert.ok(largeStored >= 5 && right >= 1 && wrong >= 3, `${largeStored} large files stored; guesses ${right} right, ${wrong} wrong`)
      }
    })
  })
}

generatedForms({ what: 'small files', limit: 16 * 1024, large: false, runs: 60, seed: 20261201 })
generatedForms({ what: 'files of 5–7 MiB among them, staged', limit: 7 * MiB, large: true, runs: 25, seed: 20261204 })

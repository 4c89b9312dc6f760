// How Dify's HTTP Request node sees our answers (DIFY.md §1): a download must
// become a file output whatever the object holds — text, JSON and CSV
// included — and the JSON tools must stay text/json outputs.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fetchJson, gatewaySuite, putObject, uniqueKey } from './helper.js'

/** Dify's rule: attachment (or a filename) → file; text/* but csv, JSON-ish, text-looking or untyped bodies → text. */
function difyOutput (headers: Headers, body: Buffer): 'file' | 'text' {
  const disposition = headers.get('content-disposition') ?? ''
  if (/^\s*attachment\b/i.test(disposition) || /filename\*?=/i.test(disposition)) return 'file'
  const type = (headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (type === '') return 'text'
  if (type.startsWith('text/') && type !== 'text/csv') return 'text'
  if (/^application\/(json|xml|javascript|x-www-form-urlencoded|yaml|.*\+json|.*\+xml)$/.test(type)) return 'text'
  const head = body.subarray(0, 1024)
  return head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)) ? 'text' : 'file'
}

describe("Dify's HTTP Request node", () => {
  const suite = gatewaySuite()
  const objects: Array<[string, string, string]> = [
    ['notes.txt', 'text/plain', 'plain words'],
    ['data.json', 'application/json', '{"a":1}'],
    ['table.csv', 'text/csv', 'a,b\n1,2\n'],
    ['page.html', 'text/html', '<p>hi</p>'],
    ['untyped', 'application/octet-stream', 'looks like text']
  ]

  for (const [name, type, content] of objects) {
    it(`gets a file output from /download/file for ${type} (${name}), with a bare, accurate Content-Type`, async () => {
      const key = uniqueKey(name)
      await putObject(suite.s3, key, content, type)
      for (const init of [{}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s3_key: key }) }]) {
        const url = `${suite.gw.url}/download/file${'method' in init ? '' : `?s3_key=${encodeURIComponent(key)}`}`
        const res = await fetch(url, init)
        const body = Buffer.from(await res.arrayBuffer())
        assert.equal(res.status, 200)
        assert.equal(res.headers.get('content-type'), type, 'the stored type, no charset added')
        assert.equal(difyOutput(res.headers, body), 'file')
        assert.equal(body.toString(), content)
      }
    })
  }

  it('gets a text (JSON) output from /download/base64 and from every JSON answer', async () => {
    const key = uniqueKey('pic.png')
    await putObject(suite.s3, key, Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'image/png')
    const res = await fetch(`${suite.gw.url}/download/base64?s3_key=${encodeURIComponent(key)}`)
    const body = Buffer.from(await res.arrayBuffer())
    assert.equal(difyOutput(res.headers, body), 'text')
    assert.equal(JSON.parse(body.toString()).content_base64, 'iVBORw==')
    const error = await fetch(`${suite.gw.url}/download/file?s3_key=${encodeURIComponent(uniqueKey('missing'))}`)
    assert.equal(difyOutput(error.headers, Buffer.from(await error.arrayBuffer())), 'text', 'an error is readable text, not a file')
  })

  it('stores a "binary" body (no Content-Type, no filename) under the key and type given in the query', async () => {
    const key = uniqueKey('scan.pdf')
    const res = await fetch(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: new Uint8Array([37, 80, 68, 70]) })
    const answer = await res.json() as Record<string, unknown>
    assert.equal(res.status, 201, JSON.stringify(answer))
    assert.equal(answer.content_type, 'application/pdf', 'guessed from the key')
    const typed = await fetchJson(`${suite.gw.url}/upload/file?s3_key=${encodeURIComponent(uniqueKey('blob'))}&content_type=image/webp`, { method: 'POST', body: new Uint8Array([1]) })
    assert.equal(typed.body.content_type, 'image/webp')
  })

  it('answers 400 MISSING_FILE when the form held only the placeholder (no file variable resolved)', async () => {
    const form = new FormData()
    form.append('s3_key', uniqueKey('x.bin'))
    form.append('__multipart_placeholder__', new Blob([]), '')
    const { status, body } = await fetchJson(`${suite.gw.url}/upload/file`, { method: 'POST', body: form })
    assert.equal(status, 400)
    assert.equal(body.code, 'MISSING_FILE')
  })
})

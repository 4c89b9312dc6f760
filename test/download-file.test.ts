// GET / HEAD / POST /download/file end to end over HTTP against a real S3 server,
// through each way the store reads: GetObject signed without the SDK's stack
// (signed.ts, the default) and the SDK's GetObject (S3_CHECKSUM_MODE=when_supported).
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { gatewaySuite, putObject, uniqueKey } from './helper.js'
import { send } from './http.js'

for (const [way, env] of [
  ['signed GetObject', {}],
  ["the SDK's GetObject", { S3_CHECKSUM_MODE: 'when_supported' }]
] as const) {
  describe(`/download/file (${way})`, () => {
    const suite = gatewaySuite(env)
    const data = Buffer.from('0123456789abcdefghij')
    let key: string
    let etag: string
    let lastModified: string

    const url = (k: string, query = ''): string => `${suite.gw.url}/download/file?s3_key=${encodeURIComponent(k)}${query}`

    before(async () => {
      key = uniqueKey('docs/Résumé final.pdf')
      await putObject(suite.s3, key, data, 'application/pdf')
      const head = await fetch(url(key), { method: 'HEAD' })
      etag = head.headers.get('etag') ?? ''
      lastModified = head.headers.get('last-modified') ?? ''
    })
    it('streams the object with Content-Type, Content-Length, ETag, Last-Modified, Accept-Ranges and an attachment disposition', async () => {
      const res = await fetch(url(key))
      assert.equal(res.status, 200)
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), data)
      assert.equal(res.headers.get('content-type'), 'application/pdf')
      assert.equal(res.headers.get('content-length'), String(data.length))
      assert.match(etag, /^"[0-9a-f]{32}"$/)
      assert.equal(res.headers.get('etag'), etag)
      assert.ok(!Number.isNaN(Date.parse(lastModified)), lastModified)
      assert.equal(res.headers.get('last-modified'), lastModified)
      assert.equal(res.headers.get('accept-ranges'), 'bytes')
      assert.equal(res.headers.get('content-disposition'), 'attachment; filename="R_sum_ final.pdf"; filename*=UTF-8\'\'R%C3%A9sum%C3%A9%20final.pdf')
      assert.equal(res.headers.get('x-presigned-url'), null)
    })

    it('takes the key from filename when s3_key is absent', async () => {
      const res = await fetch(`${suite.gw.url}/download/file?filename=${encodeURIComponent(key)}`)
      assert.equal(res.status, 200)
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), data)
    })

    it('answers POST with JSON parameters the same way', async () => {
      const res = await fetch(`${suite.gw.url}/download/file`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s3_key: key }) })
      assert.equal(res.status, 200)
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), data)
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment;/)
    })

    it('answers HEAD with the headers alone', async () => {
      const res = await fetch(url(key), { method: 'HEAD' })
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-length'), String(data.length))
      assert.equal(res.headers.get('content-type'), 'application/pdf')
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment;/)
      assert.equal((await res.arrayBuffer()).byteLength, 0)
    })

    it('answers 404 NOT_FOUND for a missing object, on GET, POST and HEAD', async () => {
      const missing = uniqueKey('missing.txt')
      const res = await fetch(url(missing))
      assert.equal(res.status, 404)
      const body = await res.json() as Record<string, unknown>
      assert.equal(body.code, 'NOT_FOUND')
      assert.equal(body.statusCode, 404)
      assert.equal(body.error, 'Not Found')
      const post = await fetch(`${suite.gw.url}/download/file`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s3_key: missing }) })
      assert.equal(post.status, 404)
      assert.equal((await fetch(url(missing), { method: 'HEAD' })).status, 404)
    })

    it('answers 400 MISSING_KEY and INVALID_KEY', async () => {
      let res = await fetch(`${suite.gw.url}/download/file`)
      assert.equal(res.status, 400)
      assert.equal((await res.json() as Record<string, unknown>).code, 'MISSING_KEY')
      res = await fetch(url('../etc/passwd'))
      assert.equal(res.status, 400)
      assert.equal((await res.json() as Record<string, unknown>).code, 'INVALID_KEY')
    })

    describe('Range', () => {
      it('answers 206 with Content-Range for a single range', async () => {
        const res = await fetch(url(key), { headers: { range: 'bytes=2-5' } })
        assert.equal(res.status, 206)
        assert.equal(await res.text(), '2345')
        assert.equal(res.headers.get('content-range'), `bytes 2-5/${data.length}`)
        assert.equal(res.headers.get('content-length'), '4')
        assert.match(res.headers.get('content-disposition') ?? '', /^attachment;/)
      })

      it('answers an open-ended range', async () => {
        const res = await fetch(url(key), { headers: { range: 'bytes=15-' } })
        assert.equal(res.status, 206)
        assert.equal(await res.text(), 'fghij')
      })

      it('answers a suffix range (the embedded S3 too: its repair in src/s3/embedded.ts)', async () => {
        const res = await fetch(url(key), { headers: { range: 'bytes=-3' } })
        assert.equal(res.status, 206)
        assert.equal(await res.text(), 'hij')
        assert.equal(res.headers.get('content-range'), `bytes 17-19/${data.length}`)
        assert.equal(res.headers.get('content-length'), '3')
      })

      it('answers a suffix longer than the object with the whole object under a 206', async () => {
        const res = await fetch(url(key), { headers: { range: 'bytes=-1000' } })
        assert.equal(res.status, 206)
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), data)
        assert.equal(res.headers.get('content-range'), `bytes 0-${data.length - 1}/${data.length}`)
      })

      for (const [range, text, first] of [['bytes=0-0', '0', 0], ['bytes=4-4', '4', 4], ['bytes=19-19', 'j', 19]] as const) {
        it(`answers a one-byte range (${range}) with that byte`, async () => {
          const res = await fetch(url(key), { headers: { range } })
          assert.equal(res.status, 206)
          assert.equal(await res.text(), text)
          assert.equal(res.headers.get('content-length'), '1')
          assert.equal(res.headers.get('content-range'), `bytes ${first}-${first}/${data.length}`)
        })
      }

      it('answers 416 RANGE_NOT_SATISFIABLE with Content-Range: bytes */size past the end', async () => {
        const res = await fetch(url(key), { headers: { range: 'bytes=100-200' } })
        assert.equal(res.status, 416)
        assert.equal(res.headers.get('content-range'), `bytes */${data.length}`)
        assert.equal((await res.json() as Record<string, unknown>).code, 'RANGE_NOT_SATISFIABLE')
      })

      for (const range of ['bytes=zz', 'bytes=0-1,4-5', 'items=0-3', 'bytes=5-2', 'bytes=-']) {
        it(`ignores a malformed or multi-range header (${range}): 200 with the whole object`, async () => {
          const res = await fetch(url(key), { headers: { range } })
          assert.equal(res.status, 200)
          assert.deepEqual(Buffer.from(await res.arrayBuffer()), data)
        })
      }
    })

    describe('conditional requests', () => {
      it('answers 304 to a matching If-None-Match, with the validators', async () => {
        const res = await fetch(url(key), { headers: { 'if-none-match': etag } })
        assert.equal(res.status, 304)
        assert.equal(res.headers.get('etag'), etag)
        assert.equal(res.headers.get('last-modified'), lastModified)
      })

      it('answers 200 to a different If-None-Match', async () => {
        const res = await fetch(url(key), { headers: { 'if-none-match': '"0000"' } })
        assert.equal(res.status, 200)
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), data)
      })

      it('answers 304 to If-Modified-Since at or after Last-Modified, 200 before it', async () => {
        let res = await fetch(url(key), { headers: { 'if-modified-since': new Date(Date.parse(lastModified) + 60_000).toUTCString() } })
        assert.equal(res.status, 304)
        res = await fetch(url(key), { headers: { 'if-modified-since': new Date(Date.parse(lastModified) - 3_600_000).toUTCString() } })
        assert.equal(res.status, 200)
        await res.arrayBuffer()
      })

      it('answers 412 PRECONDITION_FAILED to a failing If-Match and If-Unmodified-Since', async () => {
        let res = await fetch(url(key), { headers: { 'if-match': '"0000"' } })
        assert.equal(res.status, 412)
        assert.equal((await res.json() as Record<string, unknown>).code, 'PRECONDITION_FAILED')
        res = await fetch(url(key), { headers: { 'if-unmodified-since': new Date(Date.parse(lastModified) - 3_600_000).toUTCString() } })
        assert.equal(res.status, 412)
        assert.equal((await res.json() as Record<string, unknown>).code, 'PRECONDITION_FAILED')
      })

      it('answers 200 to a matching If-Match', async () => {
        const res = await fetch(url(key), { headers: { 'if-match': etag } })
        assert.equal(res.status, 200)
        await res.arrayBuffer()
      })

      it('answers HEAD with 304 and 412 too', async () => {
        assert.equal((await fetch(url(key), { method: 'HEAD', headers: { 'if-none-match': etag } })).status, 304)
        assert.equal((await fetch(url(key), { method: 'HEAD', headers: { 'if-match': '"0000"' } })).status, 412)
      })

      /** a GET with raw header values (Node's client sends bytes 0x80-0xFF as they are) */
      const status = async (headers: Record<string, string>, method = 'GET'): Promise<{ status: number, code: unknown }> => {
        const answer = await send(url(key), { method, headers })
        const text = answer.body.toString()
        return { status: answer.status, code: text.startsWith('{') ? (JSON.parse(text) as { code?: unknown }).code : undefined }
      }

      it('RFC 9110: If-None-Match * and a weak tag match (304); If-Match * matches, a weak tag never does (strong comparison)', async () => {
        for (const method of ['GET', 'HEAD']) {
          assert.equal((await status({ 'if-none-match': '*' }, method)).status, 304, method)
          assert.equal((await status({ 'if-none-match': `W/${etag}` }, method)).status, 304, method)
          assert.equal((await status({ 'if-none-match': `"0000", W/${etag}` }, method)).status, 304, method)
          assert.equal((await status({ 'if-match': '*' }, method)).status, 200, method)
          assert.equal((await status({ 'if-match': `"0000", ${etag}` }, method)).status, 200, method)
          assert.deepEqual(await status({ 'if-match': `W/${etag}` }, method), { status: 412, code: method === 'GET' ? 'PRECONDITION_FAILED' : undefined }, method)
        }
      })

      it('a header value S3\'s signature cannot carry (a Latin-1 byte) is evaluated here and never sent on: no 502', async () => {
        assert.equal((await status({ 'if-none-match': '"caf\u00e9"' })).status, 200)
        assert.deepEqual(await status({ 'if-match': '"caf\u00e9"' }), { status: 412, code: 'PRECONDITION_FAILED' })
        assert.equal((await status({ 'if-none-match': 'caf\u00e9 not a tag' })).status, 200, 'an invalid list is ignored')
      })

      it('HTTP dates are parsed strictly: junk, years past 9999 and before 1970 are ignored (200, never 502)', async () => {
        for (const junk of ['1', '99999', 'Fri, 01 Jan 10000 00:00:00 GMT', 'Thu, 01 Jan 1960 00:00:00 GMT', 'Mon, 31 Feb 2025 00:00:00 GMT', '2026-01-01T00:00:00Z', 'yesterday']) {
          assert.equal((await status({ 'if-unmodified-since': junk })).status, 200, `If-Unmodified-Since: ${junk}`)
          assert.equal((await status({ 'if-modified-since': junk })).status, 200, `If-Modified-Since: ${junk}`)
        }
      })

      it('HTTP dates in the IMF-fixdate, RFC 850 and asctime forms all count', async () => {
        for (const old of ['Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sun Nov  6 08:49:37 1994']) {
          assert.deepEqual(await status({ 'if-unmodified-since': old }), { status: 412, code: 'PRECONDITION_FAILED' }, old)
          assert.equal((await status({ 'if-modified-since': old })).status, 200, old)
        }
        assert.equal((await status({ 'if-modified-since': 'Fri, 31 Dec 9999 23:59:59 GMT' })).status, 304)
      })
    })

    it('announces a presigned URL in X-Presigned-Url / X-Presigned-Expires-In when asked, and the URL works', async () => {
      const res = await fetch(url(key, '&generate_presigned_url=true&presigned_expiration=120'))
      assert.equal(res.status, 200)
      await res.arrayBuffer()
      assert.equal(res.headers.get('x-presigned-expires-in'), '120')
      const presigned = res.headers.get('x-presigned-url') ?? ''
      assert.equal(new URL(presigned).searchParams.get('X-Amz-Expires'), '120')
      const direct = await fetch(presigned)
      assert.equal(direct.status, 200)
      assert.deepEqual(Buffer.from(await direct.arrayBuffer()), data)
    })

    it('streams a large object without holding it (Content-Length matches the bytes)', async () => {
      const big = uniqueKey('big.bin')
      const size = 24 * 1024 * 1024 + 7
      await putObject(suite.s3, big, Buffer.alloc(size, 9))
      const res = await fetch(url(big))
      assert.equal(res.headers.get('content-length'), String(size))
      let received = 0
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) received += chunk.length
      assert.equal(received, size)
    })
  })
}

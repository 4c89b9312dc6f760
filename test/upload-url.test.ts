// file_url ingestion end to end (POST /upload/url, and JSON on /upload/file):
// a local server plays Dify's /files endpoint; the gateway fetches from it,
// streams into the test S3, and refuses everything outside the allowed origins.
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startFakeDify, type FakeDify } from './fake-dify.js'
import { noUnfinishedUploads, objectBody, objectHead, postJson, putObject, sha256, startGateway, startTestS3, uniqueKey, type Gateway, type TestS3 } from './helper.js'

const TIMEOUT_MS = 1000
const MAX_UPLOAD = 4 * 1024 * 1024

describe('file_url ingestion', () => {
  let s3: TestS3
  let dify: FakeDify
  let other: FakeDify
  let gw: Gateway

  before(async () => {
    s3 = await startTestS3()
    dify = await startFakeDify()
    other = await startFakeDify()
    gw = await startGateway(s3, {
      DIFY_ENDPOINT: `${dify.origin}/`,
      FILE_URL_ALLOWED_ORIGINS: other.origin,
      FILE_URL_TIMEOUT_MS: String(TIMEOUT_MS),
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD)
    })
  })
  after(async () => {
    await gw?.close()
    await dify?.close()
    await other?.close()
    await s3?.close()
  })

  function difyFile (filename: string, mimeType: string, data: Buffer = randomBytes(4096)): { id: string, data: Buffer } {
    const id = randomUUID()
    dify.files.set(id, { data, filename, mimeType })
    return { id, data }
  }

  async function upload (body: unknown, route = '/upload/url'): Promise<{ status: number, body: Record<string, unknown> }> {
    return await postJson(`${gw.url}${route}`, body)
  }

  describe('resolving and fetching', () => {
    it('fetches a relative Dify /files/ URL against DIFY_ENDPOINT and stores it', async () => {
      const { id, data } = difyFile('report.pdf', 'application/pdf')
      const key = uniqueKey('in/report.pdf')
      const res = await upload({ file_url: dify.signedPath(id), s3_key: key })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.equal(res.body.key, key)
      assert.equal(res.body.size, data.length)
      assert.equal(res.body.sha256, sha256(data))
      assert.equal(res.body.content_type, 'application/pdf')
      assert.deepEqual(await objectBody(s3, key), data)
      const fetched = dify.requests.find((u) => u.pathname === `/files/${id}/file-preview`)
      assert.ok(fetched !== undefined)
      assert.equal(fetched.searchParams.get('sign'), 'c2lnbmF0dXJl', 'the signed query is kept')
      assert.equal(fetched.searchParams.get('as_attachment'), 'true', 'Dify is asked for the filename')
    })

    it('takes a Dify file object: its filename is the key, its mime_type the Content-Type', async () => {
      const name = uniqueKey('Quarterly report.docx')
      const { id, data } = difyFile('ignored.bin', 'application/octet-stream')
      const res = await upload({ file: { dify_model_identity: '__dify__file__', url: dify.signedPath(id), filename: name, mime_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', size: data.length, type: 'document' } })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.equal(res.body.key, name)
      assert.equal(res.body.content_type, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document')
      assert.deepEqual(await objectBody(s3, name), data)
    })

    it('keys by precedence: s3_key > filename > the file object\'s filename > the upstream Content-Disposition', async () => {
      const { id } = difyFile(`from-dify-${randomUUID()}.txt`, 'text/plain')
      const url = dify.signedPath(id)
      const a = await upload({ file: { url, filename: 'obj.txt' }, filename: 'param.txt', s3_key: uniqueKey('key.txt') })
      assert.match(String(a.body.key), /key\.txt$/)
      const b = await upload({ file: { url, filename: 'obj.txt' }, filename: uniqueKey('param.txt') })
      assert.match(String(b.body.key), /param\.txt$/)
      const objName = uniqueKey('obj.txt')
      const c = await upload({ file: { url, filename: objName } })
      assert.equal(c.body.key, objName)
      const d = await upload({ file_url: url })
      assert.equal(d.status, 201, JSON.stringify(d.body))
      assert.equal(d.body.key, dify.files.get(id)?.filename, 'the name Dify sent in Content-Disposition')
    })

    it('keys by a UTF-8 filename* from the upstream Content-Disposition (a generated /files/tools/ file)', async () => {
      const name = `résumé ${randomUUID()}.png`
      const { id, data } = difyFile(name, 'image/png')
      const res = await upload({ file_url: dify.signedPath(id, 'tool') })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.equal(res.body.key, name)
      assert.equal(res.body.content_type, 'image/png')
      assert.deepEqual(await objectBody(s3, name), data)
    })

    it('answers 400 MISSING_KEY when no name is given and the upstream sends none', async () => {
      other.routes.set('/nameless', (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('x') })
      const res = await upload({ file_url: `${other.origin}/nameless` })
      assert.equal(res.status, 400)
      assert.equal(res.body.code, 'MISSING_KEY')
    })

    it('types by precedence: content_type > mime_type > the upstream Content-Type > a guess from the key', async () => {
      const { id } = difyFile('a.bin', 'image/webp')
      const url = dify.signedPath(id)
      const explicit = await upload({ file: { url, mime_type: 'image/gif' }, content_type: 'image/png', s3_key: uniqueKey('t1.bin') })
      assert.equal(explicit.body.content_type, 'image/png')
      const fromObject = await upload({ file: { url, mime_type: 'image/gif' }, s3_key: uniqueKey('t2.bin') })
      assert.equal(fromObject.body.content_type, 'image/gif')
      const upstream = await upload({ file_url: url, s3_key: uniqueKey('t3.bin') })
      assert.equal(upstream.body.content_type, 'image/webp')
      const { id: octet } = difyFile('b.bin', 'application/octet-stream')
      const key = uniqueKey('t4.csv')
      const guessed = await upload({ file_url: dify.signedPath(octet), s3_key: key })
      assert.equal(guessed.body.content_type, 'text/csv')
      assert.equal((await objectHead(s3, key))?.contentType, 'text/csv')
    })

    it('fetches from an origin listed in FILE_URL_ALLOWED_ORIGINS', async () => {
      const data = randomBytes(10_000)
      other.routes.set('/export.bin', (_req, res) => { res.writeHead(200, { 'content-length': data.length }).end(data) })
      const key = uniqueKey('export.bin')
      const res = await upload({ file_url: `${other.origin}/export.bin`, s3_key: key })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.deepEqual(await objectBody(s3, key), data)
    })

    it('streams a chunked upstream body of several MiB into S3 intact', async () => {
      const chunks = Array.from({ length: 56 }, () => randomBytes(64 * 1024))
      const data = Buffer.concat(chunks)
      other.routes.set('/chunked.bin', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip' })
        let i = 0
        const next = (): void => {
          while (i < chunks.length) {
            if (!res.write(chunks[i++])) { res.once('drain', next); return }
          }
          res.end()
        }
        next()
      })
      const key = uniqueKey('chunked.zip')
      const res = await upload({ file_url: `${other.origin}/chunked.bin`, s3_key: key, generate_presigned_url: 'true' })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.equal(res.body.size, data.length)
      assert.equal(res.body.sha256, sha256(data))
      assert.equal(res.body.content_type, 'application/zip')
      assert.deepEqual(await objectBody(s3, key), data)
      const presigned = await fetch(String(res.body.presigned_url))
      assert.equal(sha256(Buffer.from(await presigned.arrayBuffer())), sha256(data))
      await noUnfinishedUploads(s3, key)
    })

    it('follows a redirect within the allowed origins', async () => {
      const { id, data } = difyFile('moved.txt', 'text/plain')
      other.routes.set('/moved', (_req, res) => { res.writeHead(302, { location: `${dify.origin}${dify.signedPath(id)}` }).end() })
      const key = uniqueKey('moved.txt')
      const res = await upload({ file_url: `${other.origin}/moved`, s3_key: key })
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.deepEqual(await objectBody(s3, key), data)
    })

    it('accepts the same JSON on POST /upload/file', async () => {
      const { id, data } = difyFile('via-upload-file.txt', 'text/plain')
      const key = uniqueKey('via-upload-file.txt')
      const res = await upload({ file_url: dify.signedPath(id), s3_key: key, sha256: sha256(data) }, '/upload/file')
      assert.equal(res.status, 201, JSON.stringify(res.body))
      assert.equal(res.body.content_type, 'text/plain')
      assert.deepEqual(await objectBody(s3, key), data)
    })
  })

  describe('the SSRF guard', () => {
    const refused = (origin: () => string): Array<[string, () => string]> => [
      ['another host name for an allowed server', () => `http://localhost:${new URL(origin()).port}/files/x/file-preview`],
      ['a private address', () => 'http://169.254.169.254/latest/meta-data/'],
      ['a file: URL', () => 'file:///etc/passwd'],
      ['an ftp: URL', () => `ftp://127.0.0.1:${new URL(origin()).port}/x`],
      ['user info in the URL', () => `http://user:pass@127.0.0.1:${new URL(origin()).port}/files/x`],
      ['a relative path outside /files/', () => '/console/api/setup'],
      ['dot segments climbing out of /files/', () => '/files/../console/api/setup'],
      ['encoded dot segments', () => '/files/%2e%2e/console/api/setup'],
      ['a protocol-relative URL', () => `//127.0.0.1:${new URL(origin()).port}/files/x`],
      ['a javascript: URL', () => 'javascript:alert(1)'],
      ['plain text', () => 'not a url']
    ]
    for (const [what, url] of refused(() => dify.origin)) {
      it(`refuses ${what} with 400 URL_NOT_ALLOWED and contacts nothing`, async () => {
        const seen = dify.requests.length + other.requests.length
        const key = uniqueKey('ssrf.txt')
        const res = await upload({ file_url: url(), s3_key: key })
        assert.equal(res.status, 400, JSON.stringify(res.body))
        assert.equal(res.body.code, 'URL_NOT_ALLOWED', JSON.stringify(res.body))
        assert.equal(dify.requests.length + other.requests.length, seen)
        assert.equal(await objectBody(s3, key), undefined)
      })
    }

    it('never echoes a signature in its message: an unparsable signed URL is shown up to its query', async () => {
      const res = await upload({ file_url: 'http:// bad host/files/x/file-preview?timestamp=1&nonce=2&sign=SECRET-SIGNATURE', s3_key: uniqueKey('echo.txt') })
      assert.equal(res.status, 400)
      assert.equal(res.body.code, 'URL_NOT_ALLOWED')
      assert.doesNotMatch(JSON.stringify(res.body), /SECRET-SIGNATURE|sign=|nonce/)
      assert.match(String(res.body.message), /got "http:\/\/ bad host\/files\/x\/file-preview" and more, not shown/)
    })

    it('refuses a redirect out of the allowed origins and never contacts its target', async () => {
      const target = `http://localhost:${dify.port}/files/secret`
      other.routes.set('/escape', (_req, res) => { res.writeHead(307, { location: target }).end() })
      const seen = dify.requests.length
      const key = uniqueKey('escape.txt')
      const res = await upload({ file_url: `${other.origin}/escape`, s3_key: key })
      assert.equal(res.status, 400)
      assert.equal(res.body.code, 'URL_NOT_ALLOWED')
      assert.match(String(res.body.message), /redirected outside the allowed origins/)
      assert.equal(dify.requests.length, seen)
      assert.equal(await objectBody(s3, key), undefined)
    })

    it('stops after a few redirects with 502 FETCH_FAILED', async () => {
      let hops = 0
      other.routes.set('/loop', (_req, res) => { hops++; res.writeHead(302, { location: '/loop' }).end() })
      const res = await upload({ file_url: `${other.origin}/loop`, s3_key: uniqueKey('loop.txt') })
      assert.equal(res.status, 502)
      assert.equal(res.body.code, 'FETCH_FAILED')
      assert.equal(hops, 4, 'the first request and 3 redirects (FILE_URL_MAX_REDIRECTS)')
    })
  })

  describe('upstream failures store nothing and keep the earlier object', () => {
    async function expectFailure (path: string, code: string, status: number): Promise<Record<string, unknown>> {
      const key = uniqueKey('kept.txt')
      await putObject(s3, key, 'earlier version')
      const started = Date.now()
      const res = await upload({ file_url: path.startsWith('/files/') ? path : `${other.origin}${path}`, s3_key: key })
      assert.equal(res.status, status, JSON.stringify(res.body))
      assert.equal(res.body.code, code)
      assert.ok(Date.now() - started < 10 * TIMEOUT_MS, `answered after ${Date.now() - started} ms`)
      assert.equal((await objectBody(s3, key))?.toString(), 'earlier version')
      await noUnfinishedUploads(s3, key)
      return res.body
    }

    it('an expired or forged Dify signature (403) → 502 FETCH_FAILED naming the expiry, without the signature', async () => {
      const { id } = difyFile('x.txt', 'text/plain')
      const body = await expectFailure(`/files/${id}/file-preview?timestamp=1&nonce=n&sign=forged`, 'FETCH_FAILED', 502)
      assert.match(String(body.message), /HTTP 403.*expire/)
      assert.doesNotMatch(String(body.message), /forged|nonce/)
    })

    it('an upstream 500 → 502 FETCH_FAILED', async () => {
      other.routes.set('/broken', (_req, res) => { res.writeHead(500).end('boom') })
      await expectFailure('/broken', 'FETCH_FAILED', 502)
    })

    it('an upstream that never answers → 502 FETCH_FAILED after FILE_URL_TIMEOUT_MS', async () => {
      other.routes.set('/silent', () => {})
      const body = await expectFailure('/silent', 'FETCH_FAILED', 502)
      assert.match(String(body.message), /no response within 1000 ms/)
    })

    it('an upstream body that stalls midway → 502 FETCH_FAILED', async () => {
      other.routes.set('/stall', (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.write(randomBytes(300_000)) })
      const body = await expectFailure('/stall', 'FETCH_FAILED', 502)
      assert.match(String(body.message), /stalled/)
    })

    it('an upstream that cuts its body short of Content-Length → 502 FETCH_FAILED', async () => {
      other.routes.set('/cut', (_req, res) => {
        res.writeHead(200, { 'content-length': 1_000_000 })
        res.write(randomBytes(200_000), () => { res.socket?.destroy() })
      })
      await expectFailure('/cut', 'FETCH_FAILED', 502)
    })

    it('an upstream refusing connections → 502 FETCH_FAILED', async () => {
      const gone = await startFakeDify()
      await gone.close()
      const gw2 = await startGateway(s3, { FILE_URL_ALLOWED_ORIGINS: gone.origin })
      try {
        const res = await postJson(`${gw2.url}/upload/url`, { file_url: `${gone.origin}/x`, s3_key: uniqueKey('gone.txt') })
        assert.equal(res.status, 502)
        assert.equal(res.body.code, 'FETCH_FAILED')
        assert.match(String(res.body.message), /ECONNREFUSED/)
      } finally {
        await gw2.close()
      }
    })

    it('a declared size over MAX_UPLOAD_BYTES → 413 before any byte is stored', async () => {
      other.routes.set('/huge', (_req, res) => { res.writeHead(200, { 'content-length': MAX_UPLOAD + 1 }); res.write('x') })
      await expectFailure('/huge', 'PAYLOAD_TOO_LARGE', 413)
    })

    it('a chunked body that grows over MAX_UPLOAD_BYTES → 413, no unfinished multipart upload', async () => {
      other.routes.set('/growing', (_req, res) => {
        res.writeHead(200)
        const chunk = randomBytes(256 * 1024)
        let sent = 0
        const next = (): void => {
          while (sent <= MAX_UPLOAD + chunk.length && !res.destroyed) {
            sent += chunk.length
            if (!res.write(chunk)) { res.once('drain', next); return }
          }
          res.end()
        }
        res.on('error', () => {})
        next()
      })
      await expectFailure('/growing', 'PAYLOAD_TOO_LARGE', 413)
    })

    it('a sha256 that does not match → 400 CHECKSUM_MISMATCH', async () => {
      const { id } = difyFile('sum.txt', 'text/plain')
      const key = uniqueKey('sum.txt')
      await putObject(s3, key, 'earlier version')
      const res = await upload({ file_url: dify.signedPath(id), s3_key: key, sha256: 'a'.repeat(64) })
      assert.equal(res.status, 400)
      assert.equal(res.body.code, 'CHECKSUM_MISMATCH')
      assert.equal((await objectBody(s3, key))?.toString(), 'earlier version')
    })
  })

  describe('bad requests', () => {
    const cases: Array<[string, unknown, string]> = [
      ['no file_url and no file', { s3_key: 'a.txt' }, 'MISSING_FILE'],
      ['blank file_url and blank file (what Dify sends for empty fields)', { file_url: '', file: '', s3_key: 'a.txt' }, 'MISSING_FILE'],
      ['a file object without url', { file: { filename: 'a.txt' } }, 'INVALID_PARAMETER'],
      ['file_url that is not a string', { file_url: 42, s3_key: 'a.txt' }, 'INVALID_PARAMETER'],
      ['a bad key, checked before fetching', { file_url: '/files/x/file-preview', s3_key: 'a/../b' }, 'INVALID_KEY'],
      ['a bad sha256', { file_url: '/files/x/file-preview', s3_key: 'a.txt', sha256: 'xyz' }, 'INVALID_PARAMETER']
    ]
    for (const [what, body, code] of cases) {
      it(`${what} → 400 ${code}`, async () => {
        const seen = dify.requests.length
        const res = await upload(body)
        assert.equal(res.status, 400, JSON.stringify(res.body))
        assert.equal(res.body.code, code, JSON.stringify(res.body))
        assert.equal(dify.requests.length, seen, 'nothing was fetched')
      })
    }

    it('a relative URL with no DIFY_ENDPOINT configured → 400 URL_NOT_ALLOWED saying what to set', async () => {
      const bare = await startGateway(s3)
      try {
        const res = await postJson(`${bare.url}/upload/url`, { file_url: '/files/x/file-preview?sign=1', s3_key: 'a.txt' })
        assert.equal(res.status, 400)
        assert.equal(res.body.code, 'URL_NOT_ALLOWED')
        assert.match(String(res.body.message), /DIFY_ENDPOINT/)
      } finally {
        await bare.close()
      }
    })
  })
})

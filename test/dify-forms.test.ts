// Dify's ways of sending a key and a body (API.md Part 2): the forms Dify's
// API-key settings and HTTP node produce, each accepted; a key in the query is
// never logged; form-urlencoded and form-data bodies on the JSON routes.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { loggedUrl } from '../src/app.js'
import { type Gateway, logCapture, putObject, startGateway, startTestS3, type TestS3, uniqueKey } from './helper.js'
import { postMultipart } from './http.js'

const KEY = 'dify-forms-key-0123456789'
type Json = Record<string, any>

describe('Dify\'s ways of sending a key and a body', () => {
  let s3: TestS3
  let gw: Gateway
  let logLines: string[] = []
  let key: string

  before(async () => {
    s3 = await startTestS3()
    const { stream, lines } = logCapture()
    logLines = lines
    gw = await startGateway(s3, { API_KEYS: KEY, API_KEY_HEADER: 'X-Gateway-Key', API_KEY_QUERY_PARAM: 'api_key', LOG_LEVEL: 'info' }, { logger: { stream } })
    key = uniqueKey('forms.txt')
    await putObject(s3, key, 'hello forms', 'text/plain')
  })
  after(async () => {
    await gw?.close()
    await s3?.close()
  })

  const stat = async (headers: Record<string, string>, query = ''): Promise<{ status: number, body: Json }> => {
    const res = await fetch(`${gw.url}/stat?s3_key=${encodeURIComponent(key)}${query}`, { headers })
    return { status: res.status, body: await res.json() as Json }
  }

  it('accepts every form Dify sends: Basic <key>, Basic base64(user:key), a bare key, Bearer Bearer <key>, a custom header, a query parameter', async () => {
    const forms: Array<[string, Record<string, string>, string]> = [
      ['Basic <raw key> (Dify\'s "Basic")', { authorization: `Basic ${KEY}` }, ''],
      ['Basic base64(user:key)', { authorization: `Basic ${Buffer.from(`dify:${KEY}`).toString('base64')}` }, ''],
      ['a bare key', { authorization: KEY }, ''],
      ['Bearer Bearer <key>', { authorization: `Bearer Bearer ${KEY}` }, ''],
      ['API_KEY_HEADER', { 'x-gateway-key': KEY }, ''],
      ['API_KEY_QUERY_PARAM', {}, `&api_key=${KEY}`],
      ['the query parameter spelled encoded', {}, `&api%5Fkey=${KEY}`]
    ]
    for (const [what, headers, query] of forms) {
      const { status, body } = await stat(headers, query)
      assert.equal(status, 200, `${what}: ${JSON.stringify(body)}`)
      assert.equal(body.size, 11)
    }
  })

  it('a 401 names the form it saw', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ authorization: 'Token abc' }, /unknown scheme \(Token\)/],
      [{ authorization: 'Basic d3Jvbmc=' }, /sent as Authorization: Basic/],
      [{ authorization: 'wrong-bare-key' }, /sent as a bare key in Authorization/],
      [{ 'x-gateway-key': 'wrong' }, /sent as the x-gateway-key header/],
      [{}, /Missing API key: .*x-gateway-key, \?api_key=/]
    ]
    for (const [headers, message] of cases) {
      const { status, body } = await stat(headers)
      assert.equal(status, 401, JSON.stringify(headers))
      assert.equal(body.code, 'UNAUTHORIZED')
      assert.match(String(body.message), message)
    }
  })

  it('takes JSON routes\' parameters as form-urlencoded and form-data bodies, with the same validation', async () => {
    const auth = { authorization: `Bearer ${KEY}` }
    const urlencoded = await fetch(`${gw.url}/presign`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ s3_key: key, expires_in: '120' }) })
    assert.equal(urlencoded.status, 200)
    assert.equal((await urlencoded.json() as Json).expires_in, 120)
    const form = new FormData()
    form.append('s3_key', key)
    const multipart = await fetch(`${gw.url}/download/base64`, { method: 'POST', headers: auth, body: form })
    assert.equal(multipart.status, 200)
    assert.equal(Buffer.from(String((await multipart.json() as Json).content_base64), 'base64').toString(), 'hello forms')
    const listed = await fetch(`${gw.url}/list`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'max_keys=0' })
    assert.equal(listed.status, 400)
    assert.equal((await listed.json() as Json).code, 'INVALID_PARAMETER')
    // a file part carries no parameter on these routes: drained, the fields still count
    const withFile = await postMultipart(`${gw.url}/stat?api_key=${KEY}`, [{ name: 's3_key', value: key }, { name: 'file', filename: 'x.bin', data: Buffer.alloc(100_000, 1) }])
    assert.equal(withFile.status, 200, withFile.body.toString())
    assert.equal(JSON.parse(withFile.body.toString()).size, 11)
  })

  it('never logs a key sent in the query, nor a file_url, whatever the spelling of their names', async () => {
    const log = logLines.join('')
    assert.ok(log.includes('"url":"/stat?s3_key='), 'requests were logged')
    assert.ok(!log.includes(KEY), 'the key leaked into the log')
    assert.equal(loggedUrl('/upload/url?file%5Furl=http%3A%2F%2Fx%2Ffiles%3Fsign%3Dsecret&s3_key=a'), '/upload/url?file%5Furl=[redacted]&s3_key=a')
    assert.equal(loggedUrl('/x?api_key=k&file_url=u&other=1', ['file_url', 'api_key']), '/x?api_key=[redacted]&file_url=[redacted]&other=1')
    assert.equal(loggedUrl('/x?%zz=1'), '/x?%zz=1')
    // a key sent where no API_KEY_QUERY_PARAM is set, and signatures, are credentials too
    assert.equal(loggedUrl('/list?api_key=k1&apiKey=k2&token=t&X-Amz-Signature=s&sign=g&prefix=a%2F'), '/list?api_key=[redacted]&apiKey=[redacted]&token=[redacted]&X-Amz-Signature=[redacted]&sign=[redacted]&prefix=a%2F')
  })
})

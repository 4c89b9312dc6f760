// POST /presign end to end: the URLs really work against the S3 server, and
// (where the server checks signatures: Ceph) a tampered, expired or
// wrongly-typed request is refused.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { gatewaySuite, objectBody, objectHead, postJson, putObject, startGateway, uniqueKey, unlessS3rver, type Gateway, type JsonAnswer } from './helper.js'

async function presign (gw: Gateway, body: unknown, query = ''): Promise<JsonAnswer> {
  return await postJson(`${gw.url}/presign${query}`, body)
}

describe('POST /presign', () => {
  const suite = gatewaySuite()

  it('signs a GET URL (the default method) that downloads the object', async () => {
    const key = uniqueKey('in/report.pdf')
    await putObject(suite.s3, key, 'report', 'application/pdf')
    const before = Date.now()
    const { status, body } = await presign(suite.gw, { s3_key: key, expires_in: 900 })
    assert.equal(status, 200)
    assert.equal(body.bucket, suite.s3.bucket)
    assert.equal(body.key, key)
    assert.equal(body.method, 'GET')
    assert.equal(body.expires_in, 900)
    const expiresAt = Date.parse(String(body.expires_at))
    assert.ok(expiresAt >= before + 899_000 && expiresAt <= Date.now() + 901_000, String(body.expires_at))
    assert.deepEqual(body.headers, {})
    const res = await fetch(String(body.url))
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'report')
  })

  it('signs a PUT URL that uploads, with no checksum parameters in it', async () => {
    const key = uniqueKey('up.bin')
    const { status, body } = await presign(suite.gw, { filename: key, method: 'put' })
    assert.equal(status, 200)
    assert.equal(body.method, 'PUT')
    const url = new URL(String(body.url))
    for (const name of url.searchParams.keys()) assert.doesNotMatch(name.toLowerCase(), /checksum/, `checksum parameter ${name} in ${url.href}`)
    const res = await fetch(url, { method: 'PUT', body: 'via presigned PUT' })
    assert.equal(res.status, 200, await res.text())
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'via presigned PUT')
  })

  it('signs the Content-Type of a PUT and says so in headers', async () => {
    const key = uniqueKey('typed.json')
    const { body } = await presign(suite.gw, { s3_key: key, method: 'PUT', content_type: 'application/json' })
    assert.deepEqual(body.headers, { 'Content-Type': 'application/json' })
    assert.match(new URL(String(body.url)).searchParams.get('X-Amz-SignedHeaders') ?? '', /content-type/)
    const res = await fetch(String(body.url), { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 200, await res.text())
    assert.equal((await objectHead(suite.s3, key))?.contentType, 'application/json')
  })

  it('signs for S3_PUBLIC_ENDPOINT, the host clients reach', async () => {
    const publicEndpoint = suite.s3.endpoint.replace('127.0.0.1', 'localhost')
    const pub = await startGateway(suite.s3, { S3_PUBLIC_ENDPOINT: publicEndpoint })
    try {
      const key = uniqueKey('public.txt')
      await putObject(suite.s3, key, 'public')
      const { body } = await presign(pub, { s3_key: key })
      assert.ok(String(body.url).startsWith(`${publicEndpoint}/`), String(body.url))
      const res = await fetch(String(body.url))
      assert.equal(await res.text(), 'public')
    } finally {
      await pub.close()
    }
  })

  describe('refused by a server that checks signatures', () => {
    it('a PUT with another Content-Type than signed', { skip: unlessS3rver('verify signatures') }, async () => {
      const key = uniqueKey('typed.json')
      const { body } = await presign(suite.gw, { s3_key: key, method: 'PUT', content_type: 'application/json' })
      const res = await fetch(String(body.url), { method: 'PUT', body: '{}', headers: { 'content-type': 'text/plain' } })
      assert.equal(res.status, 403)
      assert.equal(await objectHead(suite.s3, key), undefined)
    })

    it('a tampered URL', { skip: unlessS3rver('verify signatures') }, async () => {
      const key = uniqueKey('t.txt')
      await putObject(suite.s3, key, 'secret')
      const { body } = await presign(suite.gw, { s3_key: key })
      const url = new URL(String(body.url))
      url.pathname = url.pathname.replace(/t\.txt$/, 'u.txt')
      assert.equal((await fetch(url)).status, 403)
    })

    it('an expired URL', { skip: unlessS3rver('verify signatures') }, async () => {
      const key = uniqueKey('e.txt')
      await putObject(suite.s3, key, 'soon gone')
      const { body } = await presign(suite.gw, { s3_key: key, expires_in: 1 })
      await sleep(2100)
      assert.equal((await fetch(String(body.url))).status, 403)
    })
  })

  it('answers 400 INVALID_PARAMETER for expiries out of bounds, a bad method, a bad type', async () => {
    for (const bad of [{ expires_in: 0 }, { expires_in: 604801 }, { expires_in: 'soon' }, { expires_in: 1.5 }, { method: 'DELETE' }, { method: 7 }, { method: 'PUT', content_type: 'a\u0000b' }]) {
      const { status, body } = await presign(suite.gw, { s3_key: 'a.txt', ...bad })
      assert.equal(status, 400, JSON.stringify(bad))
      assert.equal(body.code, 'INVALID_PARAMETER', JSON.stringify(bad))
    }
  })

  it('enforces PRESIGN_MAX_EXPIRY and uses PRESIGN_DEFAULT_EXPIRY', async () => {
    const short = await startGateway(suite.s3, { PRESIGN_MAX_EXPIRY: '600', PRESIGN_DEFAULT_EXPIRY: '300' })
    try {
      assert.equal((await presign(short, { s3_key: 'a.txt' })).body.expires_in, 300)
      assert.equal((await presign(short, { s3_key: 'a.txt', expires_in: 601 })).body.code, 'INVALID_PARAMETER')
      assert.equal((await presign(short, { s3_key: 'a.txt', presigned_expiration: '600' })).body.expires_in, 600)
    } finally {
      await short.close()
    }
  })

  it('answers 400 MISSING_KEY / INVALID_KEY, and takes parameters from the query', async () => {
    assert.equal((await presign(suite.gw, {})).body.code, 'MISSING_KEY')
    assert.equal((await presign(suite.gw, { s3_key: 'a/../b' })).body.code, 'INVALID_KEY')
    const { status, body } = await presign(suite.gw, {}, '?s3_key=from-query.txt&method=PUT')
    assert.equal(status, 200)
    assert.equal(body.key, 'from-query.txt')
    assert.equal(body.method, 'PUT')
  })
})

// Scoped API keys (API.md Part 2): a YAML key file with three keys, each
// limited to a prefix and some permissions. Every forbidden action is 403
// FORBIDDEN and touches nothing; no key, "..", encoding, copy source or list
// prefix reaches outside a scope; logs and metrics name keys, never show them.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { send } from './http.js'
import { type Gateway, logCapture, objectBody, putObject, startGateway, startTestS3, type TestS3, uniqueKey } from './helper.js'

const READER = 'reader-key-0123456789abcdef'
const WRITER = 'writer-key-0123456789abcdef'
const ADMIN = 'admin-key-0123456789abcdefg'
const hex = (key: string): string => createHash('sha256').update(key).digest('hex')

type Answer = { status: number, body: Record<string, unknown> }

describe('scoped API keys', () => {
  let s3: TestS3
  let gw: Gateway
  let tenant: string
  let other: string
  let logLines: string[] = []

  before(async () => {
    s3 = await startTestS3()
    tenant = uniqueKey('tenants/acme')
    other = uniqueKey('tenants/other')
    const dir = mkdtempSync(join(tmpdir(), 'gw-scoped-'))
    const file = join(dir, 'keys.yaml')
    writeFileSync(file, [
      'keys:',
      '  - name: acme-reader',
      `    key: ${READER}`,
      `    prefix: ${tenant}/`,
      '    permissions: [read, list]',
      '  - name: acme-writer',
      `    sha256: ${hex(WRITER)}`,
      `    prefix: /${tenant}`,
      '    permissions: [read, write]',
      '    max_upload_bytes: 1000',
      '  - name: ops',
      `    key: ${ADMIN}`,
      '    permissions: [read, write, delete, list, presign]',
      ''
    ].join('\n'))
    const { stream, lines } = logCapture()
    logLines = lines
    gw = await startGateway(s3, { API_KEYS_FILE: file, LOG_LEVEL: 'info' }, { logger: { stream } })
  })
  after(async () => {
    await gw.close()
    await s3.close()
  })

  async function call (key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {})
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }
  }

  const forbidden = (answer: Answer, what: string): void => {
    assert.equal(answer.status, 403, `${what}: ${JSON.stringify(answer.body)}`)
    assert.equal(answer.body.code, 'FORBIDDEN', what)
  }

  it('a read+list key reads and lists under its prefix, with keys answered as it names them', async () => {
    await putObject(s3, `${tenant}/docs/a.txt`, 'acme a', 'text/plain')
    await putObject(s3, `${tenant}/docs/b.txt`, 'acme b', 'text/plain')
    await putObject(s3, `${other}/docs/secret.txt`, 'other', 'text/plain')
    const read = await fetch(`${gw.url}/download/file?s3_key=docs/a.txt`, { headers: { authorization: `Bearer ${READER}` } })
    assert.equal(read.status, 200)
    assert.equal(await read.text(), 'acme a')
    const stat = await call(READER, 'GET', '/stat?s3_key=docs/a.txt')
    assert.equal(stat.status, 200)
    assert.equal(stat.body.key, 'docs/a.txt')
    const list = await call(READER, 'GET', '/list')
    assert.equal(list.status, 200)
    assert.deepEqual((list.body.objects as Array<{ key: string }>).map((o) => o.key), ['docs/a.txt', 'docs/b.txt'])
  })

  it('every forbidden action of the read+list key is 403 and touches nothing', async () => {
    const key = 'docs/a.txt'
    const file = new FormData()
    file.append('file', new Blob(['x']), 'f.txt')
    const attempts: Array<[string, Promise<Answer>]> = [
      ['raw upload', call(READER, 'POST', `/upload/file?s3_key=${key}`, 'replaced', { 'content-type': 'text/plain' })],
      ['form upload', fetch(`${gw.url}/upload/file?s3_key=${key}`, { method: 'POST', headers: { authorization: `Bearer ${READER}` }, body: file }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> }))],
      ['base64 upload', call(READER, 'POST', '/upload/base64', { s3_key: key, file_base64: 'eA==' })],
      ['url upload', call(READER, 'POST', '/upload/url', { s3_key: key, file_url: 'http://127.0.0.1:9/x' })],
      ['delete', call(READER, 'POST', '/delete', { s3_key: key })],
      ['delete (DELETE)', call(READER, 'DELETE', `/delete?s3_key=${key}`)],
      ['batch delete', call(READER, 'POST', '/delete', { keys: [key] })],
      ['copy', call(READER, 'POST', '/copy', { source_key: key, s3_key: 'docs/c.txt' })],
      ['presign', call(READER, 'POST', '/presign', { s3_key: key })],
      ['presigned URL on a download', call(READER, 'GET', `/download/base64?s3_key=${key}&generate_presigned_url=true`)],
      ['presigned URL on a file download', call(READER, 'GET', `/download/file?s3_key=${key}&generate_presigned_url=true`)]
    ]
    for (const [what, attempt] of attempts) forbidden(await attempt, what)
    assert.equal((await objectBody(s3, `${tenant}/docs/a.txt`))?.toString(), 'acme a')
    assert.equal(await objectBody(s3, `${tenant}/docs/c.txt`), undefined)
  })

  it('a 100-continue upload by a key without write is refused before its body is sent', async () => {
    const answer = await send(`${gw.url}/upload/file?s3_key=early.bin`, { headers: { authorization: `Bearer ${READER}`, expect: '100-continue', 'content-length': 5 }, chunks: [] })
    assert.equal(answer.status, 403)
    assert.equal(JSON.parse(answer.body.toString()).code, 'FORBIDDEN')
    assert.equal(await objectBody(s3, `${tenant}/early.bin`), undefined)
  })

  it('above max_bytes a key without presign gets too_large with no URL', async () => {
    const { status, body } = await call(READER, 'GET', '/download/file?s3_key=docs/a.txt&max_bytes=2')
    assert.equal(status, 200)
    assert.equal(body.too_large, true)
    assert.equal(body.presigned_url, undefined)
    assert.match(String(body.message), /presign/)
  })

  it('a read+write key (by sha256) uploads and copies in its scope, under its own upload limit, and may not delete, list, move or presign', async () => {
    const up = await call(WRITER, 'POST', '/upload/file?s3_key=up/one.txt', 'hello', { 'content-type': 'text/plain' })
    assert.equal(up.status, 201, JSON.stringify(up.body))
    assert.equal(up.body.key, 'up/one.txt')
    assert.equal((await objectBody(s3, `${tenant}/up/one.txt`))?.toString(), 'hello')
    const copied = await call(WRITER, 'POST', '/copy', { source_key: 'up/one.txt', s3_key: 'up/two.txt' })
    assert.equal(copied.status, 201, JSON.stringify(copied.body))
    assert.equal((await objectBody(s3, `${tenant}/up/two.txt`))?.toString(), 'hello')
    const big = await call(WRITER, 'POST', '/upload/file?s3_key=up/big.bin', 'x'.repeat(1001), { 'content-type': 'application/octet-stream' })
    assert.equal(big.status, 413)
    assert.equal(big.body.code, 'PAYLOAD_TOO_LARGE')
    const big64 = await call(WRITER, 'POST', '/upload/base64', { s3_key: 'up/big64.bin', file_base64: Buffer.alloc(1001).toString('base64') })
    assert.equal(big64.status, 413)
    assert.equal(await objectBody(s3, `${tenant}/up/big.bin`), undefined)
    assert.equal(await objectBody(s3, `${tenant}/up/big64.bin`), undefined)
    forbidden(await call(WRITER, 'POST', '/delete', { s3_key: 'up/one.txt' }), 'delete')
    forbidden(await call(WRITER, 'GET', '/list'), 'list')
    forbidden(await call(WRITER, 'POST', '/copy', { source_key: 'up/one.txt', s3_key: 'up/three.txt', move: true }), 'move')
    forbidden(await call(WRITER, 'POST', '/presign', { s3_key: 'up/one.txt', method: 'PUT' }), 'presign')
    forbidden(await call(WRITER, 'POST', '/upload/file?s3_key=up/p.txt&generate_presigned_url=1', 'p', { 'content-type': 'text/plain' }), 'upload with a presigned URL')
    assert.equal((await objectBody(s3, `${tenant}/up/one.txt`))?.toString(), 'hello')
    assert.equal(await objectBody(s3, `${tenant}/up/three.txt`), undefined)
    assert.equal(await objectBody(s3, `${tenant}/up/p.txt`), undefined, 'refused before the upload, not after')
  })

  it('no key, "..", encoding, absolute path, copy source or list prefix reaches outside a scope', async () => {
    await putObject(s3, `${other}/docs/secret.txt`, 'other')
    const outside = other.slice(tenant.length - 'tenants/acme'.length)
    const hostile = ['../other/docs/secret.txt', `../${other}/docs/secret.txt`, 'docs/../../other/docs/secret.txt', './docs/a.txt', '..']
    for (const name of hostile) {
      const read = await call(READER, 'GET', `/stat?s3_key=${encodeURIComponent(name)}`)
      assert.equal(read.status, 400, `${name}: ${JSON.stringify(read.body)}`)
      assert.equal(read.body.code, 'INVALID_KEY')
      const copy = await call(WRITER, 'POST', '/copy', { source_key: name, s3_key: 'stolen.txt' })
      assert.equal(copy.status, 400, `copy from ${name}`)
      const into = await call(WRITER, 'POST', '/copy', { source_key: 'up/one.txt', s3_key: name })
      assert.equal(into.status, 400, `copy to ${name}`)
    }
    // a leading "/", an encoded dot segment and the other tenant's full key all stay inside the scope: nothing is found there
    for (const name of [`/${other}/docs/secret.txt`, '%2e%2e/other/docs/secret.txt', `${outside}/docs/secret.txt`, `/../${other}`]) {
      const read = await call(READER, 'GET', `/stat?s3_key=${encodeURIComponent(name)}`)
      assert.ok(read.status === 404 || read.status === 400, `${name}: ${read.status}`)
      const copy = await call(WRITER, 'POST', '/copy', { source_key: name, s3_key: 'stolen.txt' })
      assert.ok(copy.status === 404 || copy.status === 400, `copy from ${name}: ${copy.status}`)
    }
    assert.equal(await objectBody(s3, `${tenant}/stolen.txt`), undefined)
    for (const prefix of ['..', '../', '../other', `/${other}`, '%2e%2e/']) {
      const list = await call(READER, 'GET', `/list?prefix=${encodeURIComponent(prefix)}`)
      if (list.status === 200) assert.deepEqual(list.body.objects, [], `list ${prefix}`)
      else assert.equal(list.status, 400, `list ${prefix}`)
    }
    // the scope is a folder: "acme" never lists "acme-2"
    await putObject(s3, `${tenant}-2/neighbour.txt`, 'n')
    const all = await call(READER, 'GET', '/list?max_keys=1000')
    assert.ok((all.body.objects as Array<{ key: string }>).every((o) => !o.key.includes('neighbour')))
    assert.equal((await objectBody(s3, `${other}/docs/secret.txt`))?.toString(), 'other')
  })

  it('the unscoped key does everything, across the bucket', async () => {
    const moved = await call(ADMIN, 'POST', '/copy', { source_key: `${tenant}/up/two.txt`, s3_key: `${other}/two.txt`, move: true })
    assert.equal(moved.status, 201, JSON.stringify(moved.body))
    assert.equal(await objectBody(s3, `${tenant}/up/two.txt`), undefined)
    const presigned = await call(ADMIN, 'POST', '/presign', { s3_key: `${other}/two.txt` })
    assert.equal((await (await fetch(String(presigned.body.url))).text()), 'hello')
    const deleted = await call(ADMIN, 'POST', '/delete', { keys: [`${other}/two.txt`] })
    assert.deepEqual(deleted.body.deleted, [`${other}/two.txt`])
  })

  it('logs carry key_name and metrics count by key name; no key ever appears in either', async () => {
    const metrics = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
    const text = await metrics.text()
    assert.match(text, /s3_gateway_http_requests_total\{[^}]*key="acme-reader"[^}]*\} \d+/)
    assert.match(text, /s3_gateway_http_requests_total\{[^}]*status="403"[^}]*key="acme-writer"|key="acme-writer"[^}]*status="403"/)
    const log = logLines.join('')
    assert.match(log, /"key_name":"acme-reader"/)
    assert.match(log, /"key_name":"ops"/)
    for (const secret of [READER, WRITER, ADMIN, hex(WRITER)]) {
      assert.ok(!log.includes(secret), 'a key in the log')
      assert.ok(!text.includes(secret), 'a key in the metrics')
    }
  })

  it('reload() takes a rotated file, and a broken one keeps the keys in force', async () => {
    const { config } = gw
    const file = config.apiKeysFile ?? ''
    writeFileSync(file, `keys:\n  - name: rotated\n    key: ${READER}-new\n    permissions: [read]\n`)
    assert.equal(gw.app.keyRing.reload(), 1)
    assert.equal((await call(READER, 'GET', '/list')).status, 401, 'the old key is gone')
    assert.equal((await call(`${READER}-new`, 'GET', `/stat?s3_key=${encodeURIComponent(`${other}/docs/secret.txt`)}`)).status, 200)
    writeFileSync(file, 'keys:\n  - name: broken\n    permissions: [fly]\n')
    assert.throws(() => gw.app.keyRing.reload(), /needs key .* or sha256/)
    assert.equal((await call(`${READER}-new`, 'GET', `/stat?s3_key=${encodeURIComponent(`${other}/docs/secret.txt`)}`)).status, 200, 'still in force')
  })
})

// POST /mcp through the official MCP SDK's own client over Streamable HTTP,
// against the running app and a real S3: every tool, a file round trip as an
// EmbeddedResource, a large file as a presigned URL fetched from S3, scoped
// keys, no key; and the wire as Dify's MCP client speaks it (DIFY.md §6).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { startFakeDify, type FakeDify } from './fake-dify.js'
import { objectBody, objectHead, putObject, startGateway, startTestS3, uniqueKey, type Gateway, type TestS3 } from './helper.js'

const ADMIN = 'mcp-admin-key-0123456789'
const READER = 'mcp-reader-key-0123456789'
const INLINE = 4096

type Json = Record<string, any>
interface ToolAnswer { content: Json[], structuredContent?: Json, isError?: boolean }

async function connect (url: string, key?: string): Promise<Client> {
  const client = new Client({ name: 'gw-test', version: '1.0.0' })
  const headers: Record<string, string> = key !== undefined ? { authorization: `Bearer ${key}` } : {}
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }))
  return client
}

/** one JSON-RPC message as Dify posts it */
async function rpc (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, headers: Headers, body: Json | undefined }> {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) as Json }
}

describe('MCP at /mcp', () => {
  let s3: TestS3
  let gw: Gateway
  let dify: FakeDify
  let admin: Client
  let tenant: string

  before(async () => {
    s3 = await startTestS3()
    dify = await startFakeDify()
    tenant = uniqueKey('mcp-tenant')
    const file = join(mkdtempSync(join(tmpdir(), 'gw-mcp-')), 'keys.yaml')
    writeFileSync(file, `keys:\n  - name: admin\n    key: ${ADMIN}\n    permissions: [read, write, delete, list, presign]\n` +
      `  - name: reader\n    key: ${READER}\n    prefix: ${tenant}\n    permissions: [read, list]\n`)
    gw = await startGateway(s3, { API_KEYS_FILE: file, MCP_INLINE_MAX_BYTES: String(INLINE), DIFY_ENDPOINT: dify.origin, PUBLIC_URL: 'https://gw.example.com' })
    admin = await connect(gw.url, ADMIN)
  })
  after(async () => {
    await admin?.close()
    await gw?.close()
    await dify?.close()
    await s3?.close()
  })

  const call = async (name: string, args: Json, client = admin): Promise<ToolAnswer> => await client.callTool({ name, arguments: args }) as ToolAnswer

  it('lists the registry\'s tools (no multipart uploads) and the agent tools, each with annotations and a flat schema', async () => {
    const { tools } = await admin.listTools()
    assert.deepEqual(tools.map((t) => t.name).sort(), [
      's3_copy_object', 's3_delete_object', 's3_download_base64', 's3_download_file', 's3_list_objects', 's3_presign',
      's3_read_text', 's3_stat_object', 's3_upload_base64', 's3_upload_from_url', 's3_upload_text'
    ])
    for (const tool of tools) {
      assert.ok((tool.description ?? '').length > 40, tool.name)
      assert.equal(tool.inputSchema.type, 'object')
      for (const [name, prop] of Object.entries(tool.inputSchema.properties ?? {}) as Array<[string, Json]>) {
        assert.ok(['string', 'integer', 'boolean'].includes(prop.type), `${tool.name}.${name}: flat scalar`)
        assert.ok(typeof prop.description === 'string' && prop.description.length > 5, `${tool.name}.${name}: description`)
      }
      assert.equal(typeof tool.annotations?.readOnlyHint, 'boolean', tool.name)
      assert.equal(typeof tool.annotations?.destructiveHint, 'boolean', tool.name)
      assert.equal(typeof tool.annotations?.idempotentHint, 'boolean', tool.name)
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
    assert.equal(byName.s3_delete_object?.annotations?.destructiveHint, true)
    assert.equal(byName.s3_list_objects?.annotations?.readOnlyHint, true)
    assert.deepEqual(byName.s3_upload_text?.inputSchema.required, ['s3_key', 'text'])
  })

  it('uploads text, reads it back whole and by range, and says when bytes are not UTF-8', async () => {
    const key = uniqueKey('notes/ü.md')
    const up = await call('s3_upload_text', { s3_key: key, text: 'héllo wörld\n', content_type: 'text/markdown; charset=utf-8' })
    assert.equal(up.isError, undefined, JSON.stringify(up))
    assert.equal(up.structuredContent?.key, key)
    assert.equal(up.structuredContent?.size, Buffer.byteLength('héllo wörld\n'))
    assert.deepEqual(JSON.parse(String(up.content[0]?.text)), up.structuredContent, 'the text copy is the same JSON')
    assert.equal((await objectHead(s3, key))?.contentType, 'text/markdown; charset=utf-8')
    const whole = await call('s3_read_text', { s3_key: key })
    assert.equal(whole.structuredContent?.text, 'héllo wörld\n')
    assert.equal(whole.structuredContent?.range, null)
    const part = await call('s3_read_text', { s3_key: key, range: '0-5' })
    assert.equal(part.structuredContent?.text, 'héllo')
    assert.equal(part.structuredContent?.size, Buffer.byteLength('héllo wörld\n'))
    const binary = uniqueKey('bin')
    await putObject(s3, binary, Buffer.from([0xff, 0xfe, 0x00, 0x80]))
    const refused = await call('s3_read_text', { s3_key: binary })
    assert.equal(refused.isError, true)
    assert.equal(refused.structuredContent?.code, 'INVALID_PARAMETER')
  })

  it('downloads a small file as an EmbeddedResource blob that round-trips byte for byte', async () => {
    const key = uniqueKey('img/dot.png')
    const data = randomBytes(INLINE)
    await putObject(s3, key, data, 'image/png')
    const answer = await call('s3_download_file', { s3_key: key })
    assert.equal(answer.isError, undefined, JSON.stringify(answer).slice(0, 300))
    const resource = answer.content.find((c) => c.type === 'resource')?.resource as Json
    assert.equal(resource.uri, `s3://${s3.bucket}/${key}`)
    assert.equal(resource.mimeType, 'image/png')
    assert.ok(Buffer.from(String(resource.blob), 'base64').equals(data))
    assert.equal(answer.structuredContent?.size, INLINE)
  })

  it('answers a file over MCP_INLINE_MAX_BYTES as a presigned URL that S3 serves, never inline', async () => {
    const key = uniqueKey('big.bin')
    const data = randomBytes(INLINE + 1)
    await putObject(s3, key, data)
    const answer = await call('s3_download_file', { s3_key: key, presigned_expiration: 60 })
    assert.equal(answer.isError, undefined)
    assert.ok(!answer.content.some((c) => c.type === 'resource'), 'not inline')
    assert.equal(answer.structuredContent?.too_large, true)
    assert.equal(answer.structuredContent?.size, INLINE + 1)
    assert.equal(answer.structuredContent?.presigned_expires_in, 60)
    const res = await fetch(String(answer.structuredContent?.presigned_url).replace('https://gw.example.com', gw.url))
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data))
    const text = await call('s3_read_text', { s3_key: key })
    assert.equal(text.isError, true)
    assert.equal(text.structuredContent?.code, 'PAYLOAD_TOO_LARGE')
    const b64 = await call('s3_download_base64', { s3_key: key, max_bytes: 10 ** 9 })
    assert.equal(b64.structuredContent?.too_large, true, 'base64 is held to the inline limit too')
  })

  it('uploads from a Dify file URL, and small base64; large base64 from a model is refused', async () => {
    dify.files.set('f1', { data: Buffer.from('from dify'), filename: 'report.txt', mimeType: 'text/plain' })
    const key = uniqueKey('in/report.txt')
    const fromUrl = await call('s3_upload_from_url', { file_url: dify.signedPath('f1'), s3_key: key })
    assert.equal(fromUrl.isError, undefined, JSON.stringify(fromUrl))
    assert.equal((await objectBody(s3, key))?.toString(), 'from dify')
    const small = uniqueKey('small.bin')
    const b64 = await call('s3_upload_base64', { s3_key: small, file_base64: Buffer.from('tiny').toString('base64') })
    assert.equal(b64.structuredContent?.size, 4)
    const big = uniqueKey('big64.bin')
    const refused = await call('s3_upload_base64', { s3_key: big, file_base64: randomBytes(INLINE * 2).toString('base64') })
    assert.equal(refused.isError, true)
    assert.equal(refused.structuredContent?.code, 'PAYLOAD_TOO_LARGE')
    assert.match(String(refused.structuredContent?.message), /s3_upload_from_url/)
    assert.equal(await objectBody(s3, big), undefined)
  })

  it('lists, stats, copies, presigns and deletes; numbers and booleans may come as strings', async () => {
    const base = uniqueKey('ops')
    await putObject(s3, `${base}/a.txt`, 'a')
    const list = await call('s3_list_objects', { prefix: `${base}/`, max_keys: '10' })
    assert.deepEqual((list.structuredContent?.objects as Json[]).map((o) => o.key), [`${base}/a.txt`])
    const stat = await call('s3_stat_object', { s3_key: `${base}/a.txt` })
    assert.equal(stat.structuredContent?.size, 1)
    const copy = await call('s3_copy_object', { source_key: `${base}/a.txt`, s3_key: `${base}/b.txt`, move: 'true' })
    assert.equal(copy.structuredContent?.moved, true)
    assert.equal(await objectBody(s3, `${base}/a.txt`), undefined)
    const url = await call('s3_presign', { s3_key: `${base}/b.txt`, expires_in: '120' })
    assert.equal(url.structuredContent?.expires_in, 120)
    const del = await call('s3_delete_object', { s3_key: `${base}/b.txt` })
    assert.equal(del.structuredContent?.deleted, true)
    assert.equal(await objectBody(s3, `${base}/b.txt`), undefined)
  })

  it('answers errors as isError results with the HTTP error\'s code and message', async () => {
    const missing = await call('s3_stat_object', { s3_key: uniqueKey('none') })
    assert.equal(missing.isError, true)
    assert.equal(missing.structuredContent?.code, 'NOT_FOUND')
    assert.match(String(missing.content[0]?.text), /NOT_FOUND/)
    const bad = await call('s3_copy_object', { source_key: 'a/../b', s3_key: 'c' })
    assert.equal(bad.structuredContent?.code, 'INVALID_KEY')
    await assert.rejects(async () => await admin.callTool({ name: 's3_no_such_tool', arguments: {} }), /Unknown tool/)
  })

  it('a scoped key sees only its tools and its prefix; a hidden tool called anyway is FORBIDDEN and touches nothing', async () => {
    await putObject(s3, `${tenant}/mine.txt`, 'mine')
    await putObject(s3, uniqueKey('theirs.txt'), 'theirs')
    const reader = await connect(gw.url, READER)
    try {
      const { tools } = await reader.listTools()
      assert.deepEqual(tools.map((t) => t.name).sort(), ['s3_download_base64', 's3_download_file', 's3_list_objects', 's3_read_text', 's3_stat_object'])
      const list = await call('s3_list_objects', {}, reader)
      assert.deepEqual((list.structuredContent?.objects as Json[]).map((o) => o.key), ['mine.txt'])
      assert.equal((await call('s3_read_text', { s3_key: 'mine.txt' }, reader)).structuredContent?.text, 'mine')
      const del = await call('s3_delete_object', { s3_key: 'mine.txt' }, reader)
      assert.equal(del.isError, true)
      assert.equal(del.structuredContent?.code, 'FORBIDDEN')
      const up = await call('s3_upload_text', { s3_key: 'mine.txt', text: 'overwritten' }, reader)
      assert.equal(up.structuredContent?.code, 'FORBIDDEN')
      assert.equal((await objectBody(s3, `${tenant}/mine.txt`))?.toString(), 'mine')
      const escape = await call('s3_read_text', { s3_key: '../theirs.txt' }, reader)
      assert.equal(escape.structuredContent?.code, 'INVALID_KEY')
    } finally {
      await reader.close()
    }
  })

  it('without a key: 401 with no OAuth metadata, and OAuth discovery finds nothing', async () => {
    await assert.rejects(async () => await connect(gw.url), /401|Unauthorized/i)
    const answer = await rpc(gw.url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'dify', version: '1' } } })
    assert.equal(answer.status, 401)
    assert.equal(answer.body?.code, 'UNAUTHORIZED')
    assert.doesNotMatch(answer.headers.get('www-authenticate') ?? '', /resource_metadata|authorization_uri/)
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-authorization-server']) {
      const res = await fetch(`${gw.url}${path}`)
      assert.equal(res.status, 404, path)
      await res.arrayBuffer()
    }
  })

  it('speaks to Dify\'s client: 2025-03-26 and 2025-06-18 initialize, then a fresh tools/call, JSON answers; GET and DELETE are 405', async () => {
    const auth = { authorization: `Bearer ${ADMIN}` }
    for (const version of ['2025-03-26', '2025-06-18']) {
      const init = await rpc(gw.url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'dify', version: '1.15' } } }, auth)
      assert.equal(init.status, 200)
      assert.match(init.headers.get('content-type') ?? '', /^application\/json/)
      assert.equal(init.body?.result?.protocolVersion, version)
      assert.equal(init.headers.get('mcp-session-id'), null, 'stateless: no session')
      assert.ok(init.headers.get('x-request-id'), 'the request id comes back')
      const notified = await rpc(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...auth, 'mcp-protocol-version': version })
      assert.equal(notified.status, 202)
      const listed = await rpc(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 's3_list_objects', arguments: { max_keys: '1' } } }, { ...auth, 'mcp-protocol-version': version })
      assert.equal(listed.status, 200)
      assert.equal(listed.body?.result?.structuredContent?.bucket, s3.bucket)
    }
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${gw.url}/mcp`, { method, headers: { ...auth, accept: 'text/event-stream' } })
      assert.equal(res.status, 405, method)
      assert.equal(res.headers.get('allow'), 'POST')
      assert.equal((await res.json() as Json).code, 'METHOD_NOT_ALLOWED')
    }
  })

  it('refuses a browser Origin it does not know (DNS rebinding), and counts /mcp in the metrics', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }
    const evil = await rpc(gw.url, init, { authorization: `Bearer ${ADMIN}`, origin: 'http://evil.example.com' })
    assert.equal(evil.status, 403)
    assert.equal(evil.body?.code, 'FORBIDDEN')
    const ours = await rpc(gw.url, init, { authorization: `Bearer ${ADMIN}`, origin: 'https://gw.example.com' })
    assert.equal(ours.status, 200)
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
    assert.match(metrics, /s3_gateway_http_requests_total\{route="\/mcp",method="POST",status="200",key="admin"\} \d+/)
  })
})

describe('MCP without keys (loopback development)', () => {
  let s3: TestS3
  let gw: Gateway
  before(async () => {
    s3 = await startTestS3()
    gw = await startGateway(s3, {})
  })
  after(async () => {
    await gw?.close()
    await s3?.close()
  })

  it('checks the Host against DNS rebinding: a foreign Host is 403, localhost and 127.0.0.1 are served', async () => {
    const { request } = await import('node:http')
    const post = async (host: string): Promise<number> => await new Promise((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })
      const req = request(`${gw.url}/mcp`, { method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.end(body)
    })
    assert.equal(await post('evil.example.com'), 403)
    assert.equal(await post('evil.example.com:3000'), 403)
    const port = new URL(gw.url).port
    assert.equal(await post(`localhost:${port}`), 200)
    assert.equal(await post(`127.0.0.1:${port}`), 200)
    const client = await connect(gw.url)
    try {
      assert.ok((await client.listTools()).tools.length > 5, 'auth off: every tool')
    } finally {
      await client.close()
    }
  })
})

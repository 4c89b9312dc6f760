// /openapi.json held to Dify's custom-tool import rules (DIFY.md §2), and
// /docs rendered in a real headless Chromium.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import { ARTIFACTS, authHeaders, CHROMIUM, gatewaySuite, launchChromium, objectBody, uniqueKey } from './helper.js'

type Json = Record<string, any>

const KEY = 'openapi-test-key'
const PUBLIC_URL = 'https://gateway.example.com:8443'
const TOOLS = ['s3_upload_file', 's3_upload_files', 's3_upload_from_url', 's3_upload_base64', 's3_download_file', 's3_download_base64', 's3_presign', 's3_list_objects', 's3_stat_object', 's3_delete_object', 's3_copy_object']
const METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options', 'trace']
const SCALAR = new Set(['string', 'integer', 'number', 'boolean'])

interface ToolParameter { name: string, type: string, required: boolean, description: string, in: 'query' | 'body' }
interface Tool { name: string, method: string, url: string, contentType: string | undefined, parameters: ToolParameter[] }

/** What Dify's importer makes of the document: one tool per operation, flat parameters. */
function difyTools (doc: Json): Tool[] {
  const tools: Tool[] = []
  const typeOf = (schema: Json): string => schema.format === 'binary' ? 'file' : ({ integer: 'number', number: 'number', boolean: 'boolean' } as Record<string, string>)[schema.type] ?? 'string'
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS.filter((m) => m in item)) {
      const op = item[method]
      const parameters: ToolParameter[] = (op.parameters ?? []).map((p: Json) => ({ name: p.name, type: typeOf(p.schema), required: p.required === true, description: p.description ?? '', in: 'query' }))
      const content = Object.entries((op.requestBody?.content ?? {}) as Json)
      // Dify sends with the first content type and builds parameters from the last
      const last = content.at(-1)
      if (last !== undefined) {
        const schema = last[1].schema as Json
        for (const [name, prop] of Object.entries((schema.properties ?? {}) as Json)) {
          parameters.push({ name, type: typeOf(prop), required: (schema.required ?? []).includes(name), description: prop.description ?? '', in: 'body' })
        }
      }
      tools.push({ name: op.operationId, method, url: doc.servers[0].url + path, contentType: content[0]?.[0], parameters })
    }
  }
  return tools
}

function walk (value: unknown, visit: (node: Json, path: string) => void, path = ''): void {
  if (value === null || typeof value !== 'object') return
  visit(value as Json, path)
  for (const [k, v] of Object.entries(value)) walk(v, visit, `${path}/${k}`)
}

describe('OpenAPI document', () => {
  const suite = gatewaySuite({ API_KEYS: KEY, PUBLIC_URL })

  async function document (): Promise<Json> {
    const res = await fetch(`${suite.gw.url}/openapi.json`)
    assert.equal(res.status, 200, 'served without a key')
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    return await res.json() as Json
  }

  it('is a valid OpenAPI 3.0 document', async () => {
    const doc = await document()
    assert.match(doc.openapi, /^3\.0\.\d+$/)
    const result = await new Validator().validate(doc)
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2))
  })

  it('has what Dify requires: info, servers (PUBLIC_URL first), paths', async () => {
    const doc = await document()
    assert.equal(typeof doc.info.title, 'string')
    assert.ok(doc.info.description.length > 20)
    assert.deepEqual(doc.servers, [{ url: PUBLIC_URL }])
    assert.ok(Object.keys(doc.paths).length > 0)
  })

  it('lists exactly one operation per tool, named by operationId', async () => {
    const tools = difyTools(await document())
    assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort())
    for (const tool of tools) {
      assert.match(tool.name, /^[a-zA-Z0-9_-]{1,64}$/)
      assert.ok(tool.url.startsWith(PUBLIC_URL + '/'))
    }
  })

  it('gives each operation a description an LLM can act on, and one request content type at most', async () => {
    const doc = await document()
    for (const item of Object.values(doc.paths as Json)) {
      for (const method of METHODS.filter((m) => m in item)) {
        const op = item[method]
        assert.ok(op.summary.length > 5 && op.description.length > 40, op.operationId)
        const types = Object.keys(op.requestBody?.content ?? {})
        assert.ok(types.length <= 1, `${op.operationId}: ${types.join(', ')}`)
      }
    }
  })

  it('uses multipart with a required binary file for s3_upload_file, JSON for the other bodies, GET for downloads', async () => {
    const tools = Object.fromEntries(difyTools(await document()).map((t) => [t.name, t]))
    assert.equal(tools.s3_upload_file?.contentType, 'multipart/form-data')
    const file = tools.s3_upload_file?.parameters.find((p) => p.name === 'file')
    assert.deepEqual(file && { type: file.type, required: file.required }, { type: 'file', required: true })
    for (const name of ['s3_upload_from_url', 's3_upload_base64', 's3_presign']) {
      assert.equal(tools[name]?.method, 'post')
      assert.equal(tools[name]?.contentType, 'application/json', name)
    }
    for (const name of ['s3_download_file', 's3_download_base64']) {
      assert.equal(tools[name]?.method, 'get')
      assert.equal(tools[name]?.contentType, undefined)
      assert.ok(tools[name]?.parameters.every((p) => p.in === 'query'))
    }
    assert.ok(tools.s3_upload_from_url?.parameters.find((p) => p.name === 'file_url')?.required)
    assert.ok(tools.s3_upload_base64?.parameters.find((p) => p.name === 'file_base64')?.required)
  })

  it('keeps every parameter flat: one scalar type, a description, no $ref, no duplicates', async () => {
    const doc = await document()
    for (const item of Object.values(doc.paths as Json)) {
      for (const method of METHODS.filter((m) => m in item)) {
        const op = item[method]
        walk({ parameters: op.parameters, requestBody: op.requestBody }, (node, path) => {
          assert.ok(!('$ref' in node), `${op.operationId}: $ref at ${path} (Dify resolves only a top-level body $ref)`)
        })
        for (const p of op.parameters ?? []) {
          assert.ok(SCALAR.has(p.schema?.type), `${op.operationId} ${p.name}: schema.type ${p.schema?.type}`)
          assert.ok(p.description.length > 10, `${op.operationId} ${p.name}: description`)
        }
        for (const [type, content] of Object.entries((op.requestBody?.content ?? {}) as Json)) {
          assert.equal(content.schema.type, 'object')
          for (const [name, prop] of Object.entries(content.schema.properties as Json)) {
            assert.ok(SCALAR.has(prop.type), `${op.operationId} ${type} ${name}: type ${prop.type} (nested objects are not flattened by Dify)`)
            assert.ok(!('anyOf' in prop) && !('oneOf' in prop), `${op.operationId} ${name}: a union has no type for Dify`)
            assert.ok(typeof prop.description === 'string' && prop.description.length > 10, `${op.operationId} ${name}: description`)
          }
        }
      }
    }
    for (const tool of difyTools(doc)) {
      const names = tool.parameters.map((p) => p.name)
      assert.deepEqual(names, [...new Set(names)], `${tool.name}: duplicated parameter`)
    }
  })

  it('declares the Bearer and X-API-Key security schemes', async () => {
    const doc = await document()
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearerAuth.description })
    assert.equal(doc.components.securitySchemes.apiKeyHeader.type, 'apiKey')
    assert.equal(doc.components.securitySchemes.apiKeyHeader.in, 'header')
    assert.equal(doc.components.securitySchemes.apiKeyHeader.name, 'X-API-Key')
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }])
  })

  it('describes parameters the routes accept: a call built from the document succeeds', async () => {
    const tools = Object.fromEntries(difyTools(await document()).map((t) => [t.name, t]))
    const tool = tools.s3_upload_base64
    assert.ok(tool !== undefined)
    const key = uniqueKey('from-doc.txt')
    const sample: Record<string, unknown> = { file_base64: Buffer.from('documented').toString('base64'), s3_key: key, generate_presigned_url: true, presigned_expiration: 60 }
    const body = Object.fromEntries(tool.parameters.filter((p) => p.name in sample).map((p) => [p.name, sample[p.name]]))
    assert.deepEqual(Object.keys(body).sort(), Object.keys(sample).sort(), 'every sample parameter is documented')
    for (const p of tool.parameters.filter((p) => p.name in sample)) assert.equal(p.type === 'number' ? 'number' : p.type, typeof sample[p.name], p.name)
    const res = await fetch(tool.url.replace(PUBLIC_URL, suite.gw.url), { method: 'POST', headers: { ...authHeaders(KEY), 'content-type': tool.contentType ?? '' }, body: JSON.stringify(body) })
    assert.equal(res.status, 201, await res.clone().text())
    assert.equal((await res.json() as Json).presigned_expires_in, 60)
    assert.equal((await objectBody(suite.s3, key))?.toString(), 'documented')
  })

  it('/docs and /openapi.json need no key; the tools do', async () => {
    assert.equal((await fetch(`${suite.gw.url}/docs`)).ok, true)
    assert.equal((await fetch(`${suite.gw.url}/docs/json`)).status, 200)
    assert.equal((await fetch(`${suite.gw.url}/download/base64?s3_key=x`)).status, 401)
  })

  it('/docs renders in headless Chromium and lists every tool, grouped by tag', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`, timeout: 60_000 }, async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
      const failed: string[] = []
      page.on('requestfailed', (request) => failed.push(request.url()))
      page.on('pageerror', (err) => failed.push(err.message))
      await page.goto(`${suite.gw.url}/docs`, { waitUntil: 'load' })
      await page.locator('.opblock').nth(TOOLS.length - 1).waitFor({ timeout: 20_000 })
      assert.equal(await page.locator('.opblock').count(), TOOLS.length)
      const operationIds = await page.locator('.opblock .opblock-summary-operation-id').allInnerTexts()
      assert.deepEqual(operationIds.map((t) => t.trim()).sort(), [...TOOLS].sort())
      assert.match(await page.locator('.info .title').innerText(), /dify-s3-gateway/)
      const tags = await page.locator('.opblock-tag-section h3 a span, .opblock-tag-section h3 span').allInnerTexts()
      for (const tag of ['upload', 'download', 'objects', 'presign']) assert.ok(tags.some((t) => t.trim() === tag), `tag ${tag} in ${JSON.stringify(tags)}`)
      assert.deepEqual(failed, [])
      mkdirSync(ARTIFACTS, { recursive: true })
      await page.screenshot({ path: join(ARTIFACTS, 'docs.png'), fullPage: true })
    } finally {
      await browser.close()
    }
  })
})

// The tool registry is the one declaration of every tool: each face (HTTP
// routes and the endpoint YAMLs that are their table, the OpenAPI document)
// must offer exactly its tools, with its parameters and descriptions.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PERMISSIONS } from '../../src/auth/keys.js'
import { loadConfig } from '../../src/config.js'
import { loadRouteTable } from '../../src/dify/endpoints.js'
import { openApiDocument, toolProperty } from '../../src/faces/openapi.js'
import { TOOLS } from '../../src/tools/index.js'
import { offeredParams } from '../../src/tools/registry.js'
import { listing, mcpTools } from '../../src/faces/mcp.js'

type Json = Record<string, any>
const config = loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:9', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 's', BUCKET_NAME: 'dify', LOG_LEVEL: 'silent' })
const doc = openApiDocument(config, '0.0.0', TOOLS) as Json
const operations = Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })))

describe('tool registry', () => {
  it('names each tool once, with a permission, annotations that agree, and descriptions a model can act on', () => {
    assert.equal(new Set(TOOLS.map((t) => t.name)).size, TOOLS.length)
    for (const tool of TOOLS) {
      assert.match(tool.name, /^s3_[a-z0-9_]+$/)
      assert.ok((PERMISSIONS as readonly string[]).includes(tool.permission), tool.name)
      assert.ok(!(tool.annotations.readOnly && tool.annotations.destructive), `${tool.name}: read-only and destructive`)
      assert.equal(tool.annotations.readOnly, ['read', 'list'].includes(tool.permission) || tool.name === 's3_presign', `${tool.name}: readOnly follows what it touches`)
      assert.ok(tool.description.length > 80, `${tool.name}: description`)
      assert.doesNotMatch(tool.description, /header/i, `${tool.name}: a tool face only sees bodies; no description may ask for a header`)
    }
  })

  it('the OpenAPI document has exactly one operation per tool, with its name, tag, path, parameters and descriptions', () => {
    assert.deepEqual(operations.map((o) => o.op.operationId).sort(), TOOLS.map((t) => t.name).sort())
    for (const tool of TOOLS) {
      const found = operations.find((o) => o.op.operationId === tool.name)
      assert.ok(found !== undefined)
      assert.equal(found.path, tool.openapi.path)
      assert.equal(found.method, tool.openapi.method)
      assert.equal(found.op.description, tool.description)
      assert.equal(found.op.summary, tool.summary)
      assert.deepEqual(found.op.tags, [tool.tag])
      assert.ok(doc.tags.some((t: Json) => t.name === tool.tag), `tag ${tool.tag} declared`)
      const params: Record<string, Json> = tool.openapi.body === 'query'
        ? Object.fromEntries((found.op.parameters as Json[]).map((p) => [p.name, { ...p.schema, description: p.description, ...(p.example !== undefined ? { example: p.example } : {}) }]))
        : (Object.values(found.op.requestBody.content as Json)[0] as Json).schema.properties
      const offered = offeredParams(tool)
      assert.deepEqual(Object.keys(params).sort(), offered.map(([name]) => name).sort(), `${tool.name}: parameters`)
      for (const [name, param] of offered) {
        assert.deepEqual(params[name], toolProperty(param), `${tool.name} ${name}`)
        if (param.type !== 'file' && param.type !== 'files') assert.notEqual(params[name]?.example, undefined, `${tool.name} ${name}: an example`)
      }
      assert.ok(String(tool.openapi.answer.status) in found.op.responses, `${tool.name}: its success answer`)
      assert.ok('403' in found.op.responses, `${tool.name}: 403 FORBIDDEN`)
    }
  })

  it('every tool route has its endpoint YAML and every endpoint YAML is a tool route, the OpenAPI one among them', () => {
    const table = loadRouteTable().map((r) => `${r.method} ${r.path}`).sort()
    const fake = { config, store: {} } as never
    const routes = TOOLS.flatMap((tool) => tool.routes(fake).map((r) => ({ tool: tool.name, id: `${r.method} ${r.path}` })))
    assert.deepEqual(routes.map((r) => r.id).sort(), table)
    for (const tool of TOOLS) {
      assert.ok(routes.some((r) => r.tool === tool.name && r.id === `${tool.openapi.method.toUpperCase()} ${tool.openapi.path}`), `${tool.name}: its OpenAPI operation is one of its routes`)
    }
  })

  it('MCP offers every registry tool (but the multipart uploads) with its annotations and permission, and only the two agent tools beside them', () => {
    const mcp = mcpTools(TOOLS)
    const expected = TOOLS.filter((t) => t.mcp !== false).map((t) => t.name)
    assert.deepEqual(mcp.map((t) => t.name).sort(), [...expected, 's3_upload_text', 's3_read_text'].sort())
    assert.deepEqual(TOOLS.filter((t) => t.mcp === false).map((t) => t.name), ['s3_upload_file', 's3_upload_files'])
    for (const tool of TOOLS.filter((t) => t.mcp !== false)) {
      const face = mcp.find((t) => t.name === tool.name)
      assert.ok(face !== undefined)
      assert.equal(face.permission, tool.permission, tool.name)
      const listed = listing(face)
      assert.deepEqual(listed.annotations, { readOnlyHint: tool.annotations.readOnly, destructiveHint: tool.annotations.destructive, idempotentHint: tool.annotations.idempotent, openWorldHint: false }, tool.name)
      const offered = offeredParams(tool).map(([name]) => name)
      for (const name of Object.keys(listed.inputSchema.properties ?? {})) assert.ok(offered.includes(name), `${tool.name}: MCP parameter ${name} is the registry's`)
      for (const name of tool.openapi.required) assert.ok(name in (listed.inputSchema.properties ?? {}), `${tool.name}: required ${name}`)
      assert.ok(face.description.startsWith(tool.description) || tool.name === 's3_download_file', `${tool.name}: the registry's description`)
      assert.doesNotMatch(face.description, /header/i)
    }
  })

  it('the max_bytes defaults keep Dify within its limits: 10 MiB of file, 1 MiB of base64 text', () => {
    const param = (tool: string): Json => (operations.find((o) => o.op.operationId === tool)?.op.parameters as Json[]).find((p) => p.name === 'max_bytes') ?? {}
    assert.equal(param('s3_download_file').schema.default, 10485760)
    assert.equal(param('s3_download_base64').schema.default, 786432)
    assert.equal(Math.ceil(786432 / 3) * 4, 1024 * 1024)
  })
})

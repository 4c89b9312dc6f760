// The endpoint YAMLs are the route table: the server registers its tool
// routes from them and refuses to start when a YAML and a handler disagree.
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { loadRouteTable, PLUGIN_ROOT, RouteTableError, werkzeugToFastify } from '../../src/dify/endpoints.js'

const config = loadConfig({ S3_ENDPOINT: 'http://127.0.0.1:9', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 's', BUCKET_NAME: 'dify', LOG_LEVEL: 'silent' })

/** a copy of the plugin declaration to break */
function pluginCopy (): string {
  const root = mkdtempSync(join(tmpdir(), 'route-table-'))
  for (const entry of ['manifest.yaml', 'group', 'endpoints', 'package.json']) cpSync(join(PLUGIN_ROOT, entry), join(root, entry), { recursive: true })
  return root
}

async function buildError (root: string): Promise<Error> {
  try {
    const app = await buildApp(config, { logger: false, pluginRoot: root })
    await app.close()
  } catch (err) {
    return err as Error
  }
  assert.fail('buildApp accepted a broken route table')
}

describe('route table', () => {
  const roots: string[] = []
  after(() => { for (const root of roots) rmSync(root, { recursive: true, force: true }) })
  const copy = (): string => { const root = pluginCopy(); roots.push(root); return root }

  it('converts werkzeug rules to Fastify routes', () => {
    assert.equal(werkzeugToFastify('/upload/file'), '/upload/file')
    assert.equal(werkzeugToFastify('/objects/<bucket>/info'), '/objects/:bucket/info')
    assert.equal(werkzeugToFastify('/objects/<string(length=2):id>'), '/objects/:id')
    assert.equal(werkzeugToFastify('/n/<int:id>'), '/n/:id')
    assert.equal(werkzeugToFastify('/download/<path:key>'), '/download/*')
    assert.throws(() => werkzeugToFastify('/a/<path:key>/b'), RouteTableError)
    assert.throws(() => werkzeugToFastify('no-slash'), RouteTableError)
    assert.throws(() => werkzeugToFastify('/a/<bad-name>'), RouteTableError)
  })

  it('reads one route per endpoint YAML listed in the group, in werkzeug and Fastify form', () => {
    const table = loadRouteTable()
    assert.deepEqual(table.map((r) => `${r.method} ${r.path}`).sort(), [
      'DELETE /delete', 'GET /download/base64', 'GET /download/file', 'GET /list', 'GET /stat', 'HEAD /download/file',
      'POST /copy', 'POST /delete', 'POST /download/base64', 'POST /download/file', 'POST /list', 'POST /presign', 'POST /stat',
      'POST /upload/base64', 'POST /upload/file', 'POST /upload/files', 'POST /upload/url'
    ])
    for (const route of table) assert.equal(route.source, 'endpoints/forward.py')
  })

  it('registers exactly the routes of the table', async () => {
    const app = await buildApp(config, { logger: false })
    try {
      for (const route of loadRouteTable()) assert.ok(app.hasRoute({ method: route.method, url: route.url }), `${route.method} ${route.url}`)
    } finally {
      await app.close()
    }
  })

  it('refuses to start when a tool route has no YAML', async () => {
    const root = copy()
    const group = join(root, 'group', 's3_gateway.yaml')
    writeFileSync(group, readFileSync(group, 'utf8').replace('  - endpoints/presign.yaml\n', ''))
    const err = await buildError(root)
    assert.ok(err instanceof RouteTableError, String(err))
    assert.match(err.message, /s3_presign handles POST \/presign, but no endpoints\/\*\.yaml declares it/)
  })

  it('refuses to start when a YAML has no handler', async () => {
    const root = copy()
    writeFileSync(join(root, 'endpoints', 'orphan.yaml'), 'path: "/objects/<path:key>"\nmethod: "DELETE"\nextra:\n  python:\n    source: "endpoints/forward.py"\n')
    const group = join(root, 'group', 's3_gateway.yaml')
    writeFileSync(group, readFileSync(group, 'utf8') + '  - endpoints/orphan.yaml\n')
    const err = await buildError(root)
    assert.ok(err instanceof RouteTableError, String(err))
    assert.match(err.message, /no handler for endpoints\/orphan\.yaml \(DELETE \/objects\/<path:key>\)/)
  })

  it('refuses YAMLs Dify would refuse: PATCH, a missing source file, a duplicate route', async () => {
    const patch = copy()
    writeFileSync(join(patch, 'endpoints', 'presign.yaml'), 'path: "/presign"\nmethod: "PATCH"\nextra:\n  python:\n    source: "endpoints/forward.py"\n')
    assert.match((await buildError(patch)).message, /method must be one of HEAD GET POST PUT DELETE OPTIONS/)
    const missing = copy()
    rmSync(join(missing, 'endpoints', 'forward.py'))
    assert.match((await buildError(missing)).message, /extra\.python\.source endpoints\/forward\.py does not exist/)
    const twice = copy()
    const group = join(twice, 'group', 's3_gateway.yaml')
    writeFileSync(group, readFileSync(group, 'utf8') + '  - endpoints/presign.yaml\n')
    assert.match((await buildError(twice)).message, /both declare POST \/presign/)
  })
})

// The Dify endpoint plugin: manifest.yaml, the group and endpoint YAMLs held
// to DIFY.md §4, and endpoints/forward.py run in Python (werkzeug's test
// client) against the running gateway.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { parse } from 'yaml'
import { PLUGIN_ROOT } from '../src/dify/endpoints.js'
import { gatewaySuite, refusedPort, startGateway, startTestS3, type Gateway, type TestS3 } from './helper.js'

type Json = Record<string, any>
const yaml = (file: string): Json => parse(readFileSync(join(PLUGIN_ROOT, file), 'utf8')) as Json
const KEY = 'plugin-test-key'

/** A Python with these modules: Debian's (python3-werkzeug, python3-yaml) first. */
function pythonWith (...modules: string[]): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(candidate, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' })
      return candidate
    } catch {}
  }
  return undefined
}
const pythonWithWerkzeug = (): string | undefined => pythonWith('werkzeug')

/** Run one of test/plugin's unittest scripts; it must exit 0, and its last line is its JSON summary */
async function runPython (python: string, script: string, env: Record<string, string>): Promise<Json> {
  const child = spawn(python, [join(PLUGIN_ROOT, 'test', 'plugin', script)], { env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  assert.equal(code, 0, `${stderr}\n${stdout}`)
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Json
}

describe('Dify endpoint plugin', () => {
  it('manifest.yaml has every field Dify requires', () => {
    const m = yaml('manifest.yaml')
    for (const field of ['version', 'type', 'author', 'name', 'label', 'description', 'icon', 'created_at', 'resource', 'plugins', 'meta']) assert.ok(field in m, field)
    assert.equal(m.type, 'plugin')
    assert.match(m.version, /^\d+\.\d+\.\d+$/)
    assert.match(m.name, /^[a-z0-9_-]{1,128}$/)
    assert.equal(typeof m.label.en_US, 'string')
    assert.equal(typeof m.description.en_US, 'string')
    assert.ok(existsSync(join(PLUGIN_ROOT, '_assets', m.icon)), `_assets/${m.icon}`)
    assert.ok(!Number.isNaN(Date.parse(m.created_at)) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(m.created_at), 'created_at is RFC 3339')
    assert.ok(Number.isInteger(m.resource.memory) && m.resource.memory > 0)
    assert.equal(m.resource.permission.endpoint.enabled, true)
    assert.match(m.meta.version, /^\d+\.\d+\.\d+$/)
    assert.ok(m.meta.arch.length > 0 && m.meta.arch.every((a: string) => ['amd64', 'arm64'].includes(a)))
    assert.deepEqual(m.meta.runner, { language: 'python', version: '3.12', entrypoint: 'main' })
    assert.ok(existsSync(join(PLUGIN_ROOT, `${m.meta.runner.entrypoint}.py`)))
    assert.ok(readFileSync(join(PLUGIN_ROOT, 'requirements.txt'), 'utf8').includes('dify_plugin'))
    assert.deepEqual(m.plugins, { tools: ['provider/s3_gateway.yaml'], endpoints: ['group/s3_gateway.yaml'] })
  })

  it('the group YAML lists its settings as a list, and every endpoint YAML there is', () => {
    const group = yaml('group/s3_gateway.yaml')
    assert.ok(Array.isArray(group.settings))
    for (const setting of group.settings) {
      assert.ok(['secret-input', 'text-input', 'select', 'boolean', 'app-selector'].includes(setting.type), setting.name)
      assert.equal(typeof setting.required, 'boolean')
      assert.equal(typeof setting.label.en_US, 'string')
    }
    assert.deepEqual(group.settings.map((s: Json) => [s.name, s.type, s.required]), [['service_url', 'text-input', true], ['api_key', 'secret-input', false]])
    const listed = [...group.endpoints].sort()
    const present = readdirSync(join(PLUGIN_ROOT, 'endpoints')).filter((f) => f.endsWith('.yaml')).map((f) => `endpoints/${f}`).sort()
    assert.deepEqual(listed, present, 'no endpoint YAML is left out of the group')
    for (const file of listed) {
      const ep = yaml(file)
      assert.ok(['HEAD', 'GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'].includes(ep.method), `${file}: ${ep.method}`)
      assert.match(ep.path, /^\//)
      assert.equal(ep.extra.python.source, 'endpoints/forward.py')
    }
  })

  describe('the tool plugin\'s classes (provider/, tools/) against the gateway', () => {
    let fileOrigin = ''
    let downUrl = ''
    // the Python file server's port is held until the Python starts, so that neither the S3 nor the gateway gets it
    let fileHolder: net.Server | undefined
    const suite = {} as { s3: TestS3, gw: Gateway }
    before(async () => {
      const holder = net.createServer()
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
      fileHolder = holder
      fileOrigin = `http://127.0.0.1:${(holder.address() as net.AddressInfo).port}`
      downUrl = `http://127.0.0.1:${await refusedPort()}`
      suite.s3 = await startTestS3()
      suite.gw = await startGateway(suite.s3, { API_KEYS: KEY, FILE_URL_ALLOWED_ORIGINS: fileOrigin })
    })
    after(async () => {
      if (fileHolder?.listening === true) await new Promise((resolve) => fileHolder?.close(resolve))
      await suite.gw?.close()
      await suite.s3?.close()
    })
    const python = pythonWith('werkzeug', 'yaml')

    it('upload by URL and by stream, blob and link downloads, base64, the object tools, errors and credential checks (Python unittest over the SDK stand-in)', { skip: python === undefined ? 'no python3 with yaml (apt-get install python3-yaml)' : false, timeout: 180_000 }, async () => {
      await new Promise((resolve) => fileHolder?.close(resolve))
      const summary = await runPython(python as string, 'test_tools.py', { GATEWAY_URL: suite.gw.url, API_KEY: KEY, FILE_PORT: new URL(fileOrigin).port, DOWN_URL: downUrl })
      assert.deepEqual(summary, { ran: 14, failures: 0, errors: 0, skipped: 0 })
    })
  })

  describe('endpoints/forward.py against the gateway', () => {
    const suite = gatewaySuite({ API_KEYS: KEY, MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) })
    const python = pythonWithWerkzeug()

    it('relays every kind of tool call (Python unittest, werkzeug test client)', { skip: python === undefined ? 'no python3 with werkzeug (apt-get install python3-werkzeug)' : false, timeout: 120_000 }, async () => {
      const summary = await runPython(python as string, 'test_forward.py', { GATEWAY_URL: suite.gw.url, API_KEY: KEY })
      assert.deepEqual(summary, { ran: 15, failures: 0, errors: 0, skipped: 0 })
    })
  })
})

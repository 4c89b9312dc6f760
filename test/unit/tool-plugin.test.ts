// The Dify tool plugin's declaration held to the rules of the SDK's pydantic
// models (dify_plugin at langgenius/dify-plugin-sdks 28d1d223:
// ToolProviderConfiguration, ToolConfiguration, ToolParameter, ProviderConfig,
// PluginConfiguration), and its tool YAMLs to the tool registry they are
// generated from: the plugin cannot offer a tool or parameter the gateway lacks.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { PLUGIN_ROOT } from '../../src/dify/endpoints.js'
import { pluginTools, PLUGIN_TOOLS, toolYamlText } from '../../src/faces/dify-plugin.js'
import { TOOLS } from '../../src/tools/index.js'

type Json = Record<string, any>
const yaml = (file: string): Json => parse(readFileSync(join(PLUGIN_ROOT, file), 'utf8')) as Json

// the SDK's enums, as written there
const PARAMETER_TYPES = ['string', 'number', 'boolean', 'select', 'secret-input', 'file', 'files', 'model-selector', 'app-selector', 'checkbox', 'any', 'object', 'array', 'dynamic-select', 'date', 'date-range']
const FORMS = ['schema', 'form', 'llm']
const CREDENTIAL_TYPES = ['secret-input', 'text-input', 'select', 'boolean', 'model-selector', 'app-selector', 'array[tools]']
const TAGS = ['search', 'image', 'videos', 'weather', 'finance', 'design', 'travel', 'social', 'news', 'medical', 'productivity', 'education', 'business', 'entertainment', 'utilities', 'rag', 'other']

const i18n = (value: unknown, where: string): void => {
  assert.ok(value !== null && typeof value === 'object', `${where}: an I18nObject`)
  assert.equal(typeof (value as Json).en_US, 'string', `${where}.en_US is required`)
}

describe('Dify tool plugin declaration', () => {
  it('manifest.yaml declares the tool provider beside the endpoints, with the tool permission', () => {
    const m = yaml('manifest.yaml')
    assert.deepEqual(m.plugins.tools, ['provider/s3_gateway.yaml'])
    assert.deepEqual(m.plugins.endpoints, ['group/s3_gateway.yaml'], 'tools and endpoints may stand together (not models)')
    assert.equal(m.plugins.models, undefined)
    assert.equal(m.resource.permission.tool.enabled, true)
    assert.match(m.author, /^[a-zA-Z0-9_-]{1,64}$/)
  })

  it('the provider YAML is what ToolProviderConfiguration takes', () => {
    const p = yaml('provider/s3_gateway.yaml')
    for (const field of ['author', 'name', 'icon']) assert.equal(typeof p.identity[field], 'string', `identity.${field}`)
    i18n(p.identity.label, 'identity.label')
    i18n(p.identity.description, 'identity.description')
    assert.ok(existsSync(join(PLUGIN_ROOT, '_assets', p.identity.icon)))
    for (const tag of p.identity.tags) assert.ok(TAGS.includes(tag), tag)
    // a mapping of name → ProviderConfig (the validator turns it into a list)
    assert.ok(!Array.isArray(p.credentials_for_provider) && typeof p.credentials_for_provider === 'object')
    assert.deepEqual(Object.keys(p.credentials_for_provider), ['gateway_url', 'api_key', 'blob_limit_mib'])
    for (const [name, c] of Object.entries(p.credentials_for_provider as Json)) {
      assert.ok(CREDENTIAL_TYPES.includes(c.type), `${name}: type ${c.type}`)
      i18n(c.label, `${name}.label`)
      if (c.default !== undefined) assert.ok(['string', 'number', 'boolean'].includes(typeof c.default), `${name}.default`)
    }
    assert.equal(p.credentials_for_provider.gateway_url.required, true)
    assert.equal(p.credentials_for_provider.api_key.type, 'secret-input')
    assert.ok(existsSync(join(PLUGIN_ROOT, p.extra.python.source)), p.extra.python.source)
    assert.deepEqual(p.tools, PLUGIN_TOOLS.map((name) => `tools/${name}.yaml`))
  })

  it('every tool YAML is what ToolConfiguration takes, and is exactly what the registry generates (npm run plugin:tools)', () => {
    for (const tool of pluginTools(TOOLS)) {
      const file = `tools/${tool.name}.yaml`
      assert.equal(readFileSync(join(PLUGIN_ROOT, file), 'utf8'), toolYamlText(tool), `${file} differs from the registry: run npm run plugin:tools`)
      const doc = yaml(file)
      assert.equal(doc.identity.name, tool.name)
      assert.equal(typeof doc.identity.author, 'string')
      i18n(doc.identity.label, `${file} identity.label`)
      i18n(doc.description.human, `${file} description.human`)
      assert.ok(typeof doc.description.llm === 'string' && doc.description.llm.length > 40)
      assert.ok(existsSync(join(PLUGIN_ROOT, doc.extra.python.source)), doc.extra.python.source)
      const names = new Set<string>()
      for (const p of doc.parameters as Json[]) {
        assert.ok(!names.has(p.name), `${file}: ${p.name} twice`)
        names.add(p.name)
        assert.ok(p.name in tool.params, `${file}: ${p.name} is not a parameter of the gateway's ${tool.name}`)
        assert.ok(PARAMETER_TYPES.includes(p.type), `${file} ${p.name}: type ${p.type}`)
        assert.ok(FORMS.includes(p.form), `${file} ${p.name}: form ${p.form}`)
        i18n(p.label, `${file} ${p.name}.label`)
        i18n(p.human_description, `${file} ${p.name}.human_description`)
        assert.equal(typeof p.required, 'boolean')
        // ToolParameter.validate_multiple: multiple only for selects, and a list default exactly then
        assert.ok(p.multiple === undefined || ['select', 'dynamic-select'].includes(p.type))
        const gatewayType = tool.params[p.name]?.type
        const expected = { string: 'string', integer: 'number', boolean: 'boolean', string_list: 'string', file: 'file', files: 'files', object: 'string' }[gatewayType ?? 'string']
        assert.equal(p.type, expected, `${file} ${p.name}: the gateway takes a ${gatewayType}`)
      }
      for (const name of tool.openapi.required) assert.ok(names.has(name), `${file}: required ${name}`)
    }
    assert.deepEqual(readdirSync(join(PLUGIN_ROOT, 'tools')).filter((f) => f.endsWith('.yaml')).sort(), PLUGIN_TOOLS.map((n) => `${n}.yaml`).sort(), 'no tool YAML beyond the generated ones')
  })

  it('keeps the parameter names of botos3: s3_key, filename, file, file_base64, and both presign spellings', () => {
    const upload = yaml('tools/s3_upload_file.yaml').parameters.map((p: Json) => p.name)
    for (const name of ['file', 's3_key', 'filename', 'generate_presigned_url', 'generate_presign_url', 'presigned_expiration', 'presign_expiry']) assert.ok(upload.includes(name), name)
    assert.equal(yaml('tools/s3_upload_file.yaml').parameters.find((p: Json) => p.name === 'file').type, 'file')
    const base64 = yaml('tools/s3_upload_base64.yaml').parameters.map((p: Json) => p.name)
    assert.ok(base64.includes('file_base64'))
    for (const tool of ['s3_download_file', 's3_download_base64']) {
      const names = yaml(`tools/${tool}.yaml`).parameters.map((p: Json) => p.name)
      for (const name of ['s3_key', 'filename', 'generate_presigned_url', 'generate_presign_url', 'presigned_expiration', 'presign_expiry']) assert.ok(names.includes(name), `${tool} ${name}`)
    }
  })
})

// The Dify tool plugin's face: the tool YAMLs under tools/ (DIFY.md §7),
// derived from the tool registry so that the plugin cannot offer a tool or a
// parameter the gateway lacks. `npm run plugin:tools` writes them; a test
// fails when the files differ from what this derives. The Python classes
// beside them (tools/*.py) call the gateway.
import { stringify } from 'yaml'
import { offeredParams, type ParamSpec, type ToolSpec } from '../tools/registry.js'

/** the registry's tools the plugin offers, in palette order (s3_upload_from_url: the plugin's s3_upload_file uploads by URL already) */
export const PLUGIN_TOOLS = [
  's3_upload_file', 's3_upload_files', 's3_upload_base64', 's3_download_file', 's3_download_base64', 's3_presign',
  's3_list_objects', 's3_stat_object', 's3_delete_object', 's3_copy_object'
] as const

/** parameters the plugin settles itself: the blob limit is a provider credential */
const NOT_IN_PLUGIN: Record<string, string[]> = {
  s3_download_file: ['max_bytes'],
  s3_download_base64: ['max_bytes']
}

/** the registry's parameters a face hides that the plugin offers: its answer is a link message, not a header */
const ALSO_IN_PLUGIN: Record<string, string[]> = {
  s3_download_file: ['generate_presigned_url']
}

/** where the plugin's answer differs from the HTTP one: a Dify file up to the blob limit, else a link */
const PLUGIN_DESCRIPTIONS: Record<string, string> = {
  s3_download_file: 'Download an object as a file: up to the blob limit (15 MiB by default) it comes back as a Dify file with its name and type; a larger object comes as a presigned URL (a link) with its size and type as JSON. ' +
    'The key comes from s3_key, else filename. With generate_presigned_url a link to the object is added.',
  s3_download_base64: 'Answer the object as one JSON message with content_base64, size, content type and ETag. The key comes from s3_key, else filename. ' +
    'An object larger than the blob limit (15 MiB by default) is not encoded: the JSON then has too_large: true, its size and a presigned_url.'
}

const LABELS: Record<string, string> = {
  s3_upload_file: 'Upload file',
  s3_upload_files: 'Upload files',
  s3_upload_base64: 'Upload base64',
  s3_download_file: 'Download file',
  s3_download_base64: 'Download base64',
  s3_presign: 'Presigned URL',
  s3_list_objects: 'List objects',
  s3_stat_object: 'Object info',
  s3_delete_object: 'Delete objects',
  s3_copy_object: 'Copy or move object'
}

const DIFY_TYPE: Record<ParamSpec['type'], string> = { string: 'string', integer: 'number', boolean: 'boolean', string_list: 'string', file: 'file', files: 'files', object: 'string' }

function label (name: string): string {
  const words = name.replace(/^s3_/, 'S3 ').replace(/_/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

interface DifyParameter {
  name: string
  type: string
  required: boolean
  label: { en_US: string }
  human_description: { en_US: string }
  llm_description?: string
  form: 'llm' | 'form'
}

function parameter (name: string, param: ParamSpec, required: boolean): DifyParameter {
  const alias = param.aliasOf !== undefined
  return {
    name,
    type: DIFY_TYPE[param.type],
    required,
    label: { en_US: alias ? `${label(name)} (botos3 name)` : label(name) },
    human_description: { en_US: alias ? `Alias of ${param.aliasOf}, as botos3 named it.` : param.description },
    // aliases exist for workflows moved from botos3: a model is never asked for them
    ...(alias ? {} : { llm_description: param.description }),
    form: alias ? 'form' : 'llm'
  }
}

/** One tool YAML as Dify's ToolConfiguration reads it. */
export function toolYaml (tool: ToolSpec): Record<string, unknown> {
  const skipped = new Set(NOT_IN_PLUGIN[tool.name] ?? [])
  const also = (ALSO_IN_PLUGIN[tool.name] ?? []).map((name): [string, ParamSpec] => {
    const param = tool.params[name]
    if (param === undefined) throw new Error(`${tool.name} has no parameter ${name}`)
    return [name, { ...param, hidden: false, description: name === 'generate_presigned_url' ? 'Also answer a presigned GET URL for the object, as a link (true/false).' : param.description }]
  })
  const offered = [...offeredParams(tool), ...also].filter(([name]) => !skipped.has(name))
  const aliases = Object.entries(tool.params).filter(([, p]) => p.aliasOf !== undefined && offered.some(([name]) => name === p.aliasOf))
  return {
    identity: { name: tool.name, author: 'dify-s3-gateway', label: { en_US: LABELS[tool.name] ?? tool.summary } },
    description: { human: { en_US: tool.summary }, llm: PLUGIN_DESCRIPTIONS[tool.name] ?? tool.description },
    parameters: [
      ...offered.map(([name, param]) => parameter(name, param, tool.openapi.required.includes(name))),
      ...aliases.map(([name, param]) => parameter(name, param, false))
    ],
    extra: { python: { source: `tools/${tool.name}.py` } }
  }
}

export function toolYamlText (tool: ToolSpec): string {
  return `# Generated from the tool registry (src/tools/${tool.name.replace(/^s3_/, '').replace(/_/g, '-')}.ts) by npm run plugin:tools: edit the registry, not this file\n` +
    stringify(toolYaml(tool), { lineWidth: 0 })
}

export function pluginTools (tools: readonly ToolSpec[]): ToolSpec[] {
  return PLUGIN_TOOLS.map((name) => {
    const tool = tools.find((t) => t.name === name)
    if (tool === undefined) throw new Error(`the plugin offers ${name}, which the registry lacks`)
    return tool
  })
}

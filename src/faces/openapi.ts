// The OpenAPI 3.0 document served at /openapi.json (and shown at /docs),
// derived from the tool registry. It is shaped for Dify's custom-tool importer
// (DIFY.md §2): one operation per tool, one request content type each, flat
// top-level body properties with one plain `type`, no $ref inside a body, no
// parameter both in the query and the body; every parameter has an example,
// operations are grouped by tag, and no description asks a model to read a
// response header (a custom tool only sees the body).
import type { TSchema } from '@sinclair/typebox'
import type { Config } from '../config.js'
import { offeredParams, type ParamSpec, type ToolSpec } from '../tools/registry.js'
import { Base64Download, UploadFilesResult, CopyResult, DeleteResult, ErrorResult, ListResult, PresignResult, StatResult, TooLargeResult, UploadResult } from '../schemas/responses.js'

type Json = Record<string, unknown>

const TAGS = [
  { name: 'upload', description: 'Store files: multipart, from a URL (Dify file URLs), or base64.' },
  { name: 'download', description: 'Fetch objects as a file or as base64; above max_bytes, a presigned URL instead.' },
  { name: 'objects', description: 'List, describe, delete, copy and move objects.' },
  { name: 'presign', description: 'URLs that let a client move bytes to or from S3 directly, past Dify\'s size limits.' }
]

const RESULT_SCHEMAS: Record<string, TSchema> = {
  UploadResult, UploadFilesResult, Base64Download, PresignResult, ListResult, StatResult, DeleteResult, CopyResult, TooLarge: TooLargeResult, Error: ErrorResult
}

/** A JSON value without TypeBox's symbols and `$id`s. */
function plain (schema: TSchema): Json {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(schema)) as Json
  return rest
}

/** One parameter as Dify reads it: a single plain `type`, with its example (and default, which Dify sends for an empty field). */
export function toolProperty (param: ParamSpec): Json {
  const type = { string: { type: 'string' }, integer: { type: 'integer' }, boolean: { type: 'boolean' }, string_list: { type: 'string' }, file: { type: 'string', format: 'binary' }, files: { type: 'string', format: 'binary' }, object: { type: 'object' } }[param.type]
  return {
    ...type,
    description: param.description,
    ...(param.example !== undefined && param.type !== 'file' && param.type !== 'files' ? { example: param.example } : {}),
    ...(param.default !== undefined ? { default: param.default } : {})
  }
}

function properties (tool: ToolSpec): Record<string, Json> {
  return Object.fromEntries(offeredParams(tool).map(([name, param]) => [name, toolProperty(param)]))
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const errorAnswer = (description: string): Json => ({ description, content: { 'application/json': { schema: ref('Error') } } })

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad input: MISSING_KEY, INVALID_KEY, MISSING_FILE, INVALID_BASE64, INVALID_PARAMETER, CHECKSUM_MISMATCH, URL_NOT_ALLOWED.',
  401: 'UNAUTHORIZED: missing or wrong API key.',
  403: 'FORBIDDEN: the API key may not do this, or not under this key.',
  404: 'NOT_FOUND: no such object.',
  412: 'PRECONDITION_FAILED: a condition (If-Match, overwrite: false) failed.',
  413: 'PAYLOAD_TOO_LARGE: over MAX_UPLOAD_BYTES, the key\'s own limit or BASE64_MAX_BYTES.',
  416: 'RANGE_NOT_SATISFIABLE: the Range is outside the object.',
  502: 'UPSTREAM_ERROR (S3 failed) or FETCH_FAILED (file_url answered an error).',
  503: 'UPSTREAM_UNAVAILABLE: S3 is down.',
  504: 'UPSTREAM_TIMEOUT: S3 is too slow.'
}

function answer (tool: ToolSpec): Json {
  const { status, description, schema } = tool.openapi.answer
  if (schema === 'binary') {
    return {
      [status]: {
        description,
        headers: { 'Content-Disposition': { schema: { type: 'string' }, description: 'attachment; filename=…' } },
        content: {
          'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
          'application/json': { schema: ref('TooLarge') }
        }
      }
    }
  }
  const body = 'max_bytes' in tool.params ? { oneOf: [ref(schema), ref('TooLarge')] } : ref(schema)
  return { [status]: { description, content: { 'application/json': { schema: body } } } }
}

/** The OpenAPI operation of one tool. */
export function operation (tool: ToolSpec): Json {
  const { body, required } = tool.openapi
  const props = properties(tool)
  const errors = Object.fromEntries([...new Set(tool.openapi.errors)].sort().map((status) => [status, errorAnswer(ERROR_TEXT[status] ?? 'Error.')]))
  const op: Json = {
    operationId: tool.name,
    summary: tool.summary,
    description: tool.description,
    tags: [tool.tag],
    responses: { ...answer(tool), ...errors }
  }
  if (body === 'query') {
    op.parameters = Object.entries(props).map(([name, { description, example, ...schema }]) =>
      ({ name, in: 'query', required: required.includes(name), description, ...(example !== undefined ? { example } : {}), schema }))
  } else {
    const type = body === 'json' ? 'application/json' : 'multipart/form-data'
    op.requestBody = {
      required: true,
      // OpenAPI 3.0: `required` is absent rather than empty
      content: { [type]: { schema: { type: 'object', ...(required.length > 0 ? { required } : {}), properties: props } } }
    }
  }
  return op
}

export function openApiDocument (config: Config, version: string, tools: readonly ToolSpec[]): Json {
  const paths: Record<string, Json> = {}
  for (const tool of tools) {
    const item = paths[tool.openapi.path] ?? {}
    if (tool.openapi.method in item) throw new Error(`two tools are ${tool.openapi.method.toUpperCase()} ${tool.openapi.path} in the OpenAPI document`)
    item[tool.openapi.method] = operation(tool)
    paths[tool.openapi.path] = item
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'dify-s3-gateway',
      version,
      description: 'S3 tools for Dify workflows and agents: upload a file (multipart, from a URL or base64), download a file or base64, list, describe, delete, copy and move objects, and presign URLs. ' +
        'Bytes stream end to end. Downloads larger than max_bytes answer a presigned URL instead of the bytes, so that Dify\'s 10 MiB (binary) and 1 MiB (text) limits are never hit.'
    },
    servers: [{ url: config.publicUrl }],
    tags: TAGS,
    security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'X-API-Key: <API key>' }
      },
      schemas: Object.fromEntries(Object.entries(RESULT_SCHEMAS).map(([name, schema]) => [name, plain(schema)]))
    }
  }
}

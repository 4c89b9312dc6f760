// The tool registry's types: a tool is declared once — its name, what it does
// for people and for a model, its parameters with aliases and examples, the
// permission it needs, whether it only reads or destroys, and its handlers —
// and every face is derived from or checked against that declaration:
// the HTTP routes and their validation (src/faces/http.ts), the OpenAPI
// operations (src/faces/openapi.ts), the endpoint YAMLs (checked at build).
// One file a tool in this folder; src/tools/index.ts lists them.
import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifyInstance, RouteHandlerMethod, RouteShorthandOptions } from 'fastify'
import type { Permission } from '../auth/keys.js'
import type { EndpointMethod } from '../dify/endpoints.js'

export type ParamType = 'string' | 'integer' | 'boolean' | 'string_list' | 'file' | 'files' | 'object'

export interface ParamSpec {
  type: ParamType
  /** for a model as much as for a person: what the value is, with its unit */
  description: string
  /** a value a caller could send (OpenAPI `example`, so that /docs teaches by example) */
  example?: unknown
  /** another name of `aliasOf`: accepted everywhere, offered on no face */
  aliasOf?: string
  /** accepted by the routes, not offered as a tool parameter (nested objects Dify cannot flatten) */
  hidden?: boolean
  /** the default a tool face offers (HTTP callers that omit it get the service's own) */
  default?: unknown
  /** the validation schema, for type 'object' */
  schema?: TSchema
}

export interface ToolAnnotations {
  /** touches nothing (MCP readOnlyHint) */
  readOnly: boolean
  /** can delete or replace what exists (MCP destructiveHint) */
  destructive: boolean
  /** the same call twice does what it did once (MCP idempotentHint) */
  idempotent: boolean
}

export interface ToolRoute {
  method: EndpointMethod
  /** as written in the endpoint YAML */
  path: string
  /** where its parameters come from: the query alone, or a JSON body and the query */
  params: 'query' | 'body' | 'custom'
  options?: RouteShorthandOptions
  handler: RouteHandlerMethod
}

/** The status a tool answers on success, and what the OpenAPI document says of it. */
export interface ToolAnswer {
  status: 200 | 201
  description: string
  /** a components/schemas name (src/schemas/responses.ts), or 'binary' for a file */
  schema: string
}

export interface ToolSpec {
  /** the tool's name on every face: operationId, MCP tool, plugin tool */
  name: string
  /** one line for people (OpenAPI summary) */
  summary: string
  /** what a model needs to use it well: what it does, when, what it answers */
  description: string
  /** OpenAPI tag: how /docs groups the tools */
  tag: 'upload' | 'download' | 'objects' | 'presign'
  /** what the caller's key must allow; options may need more (checked by the handler) */
  permission: Permission
  annotations: ToolAnnotations
  params: Record<string, ParamSpec>
  /** how a Dify custom tool calls it: one operation, one content type */
  openapi: {
    method: 'get' | 'post' | 'delete'
    path: string
    body: 'query' | 'json' | 'multipart'
    required: string[]
    answer: ToolAnswer
    /** error statuses worth naming beside the common ones */
    errors: number[]
  }
  /** false: not offered over MCP (a file upload needs a multipart body an MCP client cannot send) */
  mcp?: false
  /** prepares the tool's route scope (e.g. body parsers) */
  setup?: (scope: FastifyInstance) => Promise<void>
  routes: (scope: FastifyInstance) => ToolRoute[]
}

export function defineTool (spec: ToolSpec): ToolSpec {
  for (const [name, param] of Object.entries(spec.params)) {
    if (param.aliasOf !== undefined && !(param.aliasOf in spec.params)) throw new Error(`${spec.name}: ${name} is an alias of an unknown parameter ${param.aliasOf}`)
    if (param.aliasOf === undefined && !param.hidden && param.example === undefined) throw new Error(`${spec.name}: parameter ${name} needs an example`)
  }
  return spec
}

/** The parameters a tool face offers: no aliases, nothing hidden. */
export function offeredParams (spec: ToolSpec): Array<[string, ParamSpec]> {
  return Object.entries(spec.params).filter(([, p]) => p.aliasOf === undefined && p.hidden !== true)
}

/**
 * One parameter's validation schema. Query values and form fields are
 * strings, so numbers and booleans also take their string forms; src/params.ts
 * coerces them in one place.
 */
function paramSchema (param: ParamSpec): TSchema | undefined {
  const options = { description: param.description }
  switch (param.type) {
    case 'string': return Type.String(options)
    case 'integer': return Type.Union([Type.Integer(), Type.String()], options)
    case 'boolean': return Type.Union([Type.Boolean(), Type.String()], options)
    case 'string_list': return Type.Union([Type.Array(Type.String()), Type.String()], options)
    case 'object': return param.schema
    case 'file': return undefined
    case 'files': return undefined
  }
}

/** The tool's parameters as one TypeBox object (every one optional; unknown ones ignored: Dify sends what users configure). */
export function paramsSchema (spec: ToolSpec): TSchema {
  const properties: Record<string, TSchema> = {}
  for (const [name, param] of Object.entries(spec.params)) {
    const schema = paramSchema(param)
    if (schema !== undefined) properties[name] = Type.Optional(schema)
  }
  return Type.Object(properties, { additionalProperties: true })
}

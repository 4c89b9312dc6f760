// The MCP face (docs/API.md Part 2 "MCP"): POST /mcp, a Streamable HTTP MCP
// server on the official SDK, stateless (a server and a transport per
// request) and answering JSON. Its tools are the registry's, listed for a key
// only when its permissions allow them, plus two for agents (s3_upload_text,
// s3_read_text). A call runs the tool's own HTTP route inside the app
// (app.inject) with the caller's key, so auth, scopes, validation, limits and
// error codes are the HTTP face's, exactly; the answer's JSON becomes
// structuredContent and a text copy, an error an isError result with its code.
// Nothing larger than MCP_INLINE_MAX_BYTES is pulled into memory: a bigger
// download answers a presigned URL.
import type { IncomingHttpHeaders } from 'node:http'
import type { CallToolResult, Tool } from '@modelcontextprotocol/server'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Permission } from '../auth/keys.js'
import { hasPermission } from '../auth/scope.js'
import { AppError, errorBody } from '../errors.js'
import { encodedLength } from '../transfer/base64.js'
import { offeredParams, type ParamSpec, type ToolAnnotations, type ToolSpec } from '../tools/registry.js'

/** JSON-RPC's "invalid params" */
const INVALID_PARAMS = -32602

type Args = Record<string, unknown>

interface Called { status: number, headers: Record<string, unknown>, body: Buffer }

/** One MCP tool: its listing, and how a call runs. */
interface McpTool {
  name: string
  description: string
  permission: Permission
  annotations: ToolAnnotations
  params: Array<[string, ParamSpec]>
  required: string[]
  call: (context: CallContext, args: Args) => Promise<CallToolResult>
}

interface CallContext {
  app: FastifyInstance
  request: FastifyRequest
  inlineMax: number
}

const INSTRUCTIONS = 'S3 storage tools. Keys are object names such as "reports/2025/summary.pdf". ' +
  'List before guessing keys (s3_list_objects), check sizes with s3_stat_object, read text with s3_read_text, and hand large files on as presigned URLs (s3_download_file answers one above the inline limit). ' +
  'Upload files from URLs (s3_upload_from_url, e.g. a Dify file URL) or small text (s3_upload_text); never send large base64.'

/** headers of the MCP request that the tool's route must see: the same caller, the same request id */
function forwarded (request: FastifyRequest): IncomingHttpHeaders {
  const { authorization, 'x-api-key': apiKey } = request.headers
  return {
    ...(authorization !== undefined ? { authorization } : {}),
    ...(apiKey !== undefined ? { 'x-api-key': apiKey } : {}),
    'x-request-id': request.id
  }
}

/** MCP arguments → query or JSON values: empty ones dropped (Dify sends ""), scalars as they came (the routes coerce strings) */
function cleaned (args: Args): Args {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined && v !== null && v !== ''))
}

function queryOf (args: Args): string {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(cleaned(args))) query.set(name, typeof value === 'object' ? JSON.stringify(value) : String(value))
  const text = query.toString()
  return text === '' ? '' : `?${text}`
}

async function inject (context: CallContext, options: { method: 'GET' | 'POST', url: string, headers?: IncomingHttpHeaders, payload?: string | Buffer }): Promise<Called> {
  const res = await context.app.inject({
    method: options.method,
    url: options.url,
    headers: { ...forwarded(context.request), ...options.headers },
    ...(options.payload !== undefined ? { payload: options.payload } : {})
  })
  return { status: res.statusCode, headers: res.headers, body: res.rawPayload }
}

/** the tool's OpenAPI route: GET with a query, or POST with JSON */
async function callRoute (context: CallContext, tool: ToolSpec, args: Args): Promise<Called> {
  const { method, path, body } = tool.openapi
  if (body === 'query') return await inject(context, { method: 'GET', url: path + queryOf(args) })
  if (method !== 'post') throw new Error(`${tool.name}: no MCP call for ${method} ${path}`)
  return await inject(context, { method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(cleaned(args)) })
}

function json (value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value as Record<string, unknown> }
}

function failure (err: AppError): CallToolResult {
  const body = errorBody(err)
  return { ...json(body), isError: true }
}

/** A route's JSON answer as a tool result: errors keep the route's code and message */
function answered (called: Called): CallToolResult {
  let value: unknown
  try {
    value = JSON.parse(called.body.toString('utf8'))
  } catch {
    return failure(new AppError('INTERNAL_ERROR', `The tool answered HTTP ${called.status} without JSON`))
  }
  return called.status >= 400 ? { ...json(value), isError: true } : json(value)
}

const isJson = (called: Called): boolean => /^application\/json/.test(String(called.headers['content-type'] ?? ''))

function fromRegistry (tool: ToolSpec, call?: McpTool['call'], params = offeredParams(tool)): McpTool {
  return {
    name: tool.name,
    description: tool.description,
    permission: tool.permission,
    annotations: tool.annotations,
    params,
    required: tool.openapi.required,
    call: call ?? (async (context, args) => answered(await callRoute(context, tool, args)))
  }
}

const without = (tool: ToolSpec, ...names: string[]): Array<[string, ParamSpec]> => offeredParams(tool).filter(([name]) => !names.includes(name))

/** The MCP tools: the registry's (adapted where a file or size is involved) and the two agent tools. */
export function mcpTools (tools: readonly ToolSpec[]): McpTool[] {
  const byName = new Map(tools.map((t) => [t.name, t]))
  const get = (name: string): ToolSpec => {
    const tool = byName.get(name)
    if (tool === undefined) throw new Error(`the MCP face needs the tool ${name}`)
    return tool
  }
  const downloadFile = get('s3_download_file')
  const downloadBase64 = get('s3_download_base64')
  const uploadBase64 = get('s3_upload_base64')
  const mcp: McpTool[] = []
  for (const tool of tools) {
    if (tool.mcp === false) continue
    if (tool === downloadFile) {
      mcp.push({
        ...fromRegistry(tool, downloadInline, without(tool, 'max_bytes', 'generate_presigned_url')),
        description: 'Download an object as a file: up to the inline limit it comes as an embedded resource (a file for the client), larger ones as a presigned_url with the object\'s size and type. ' +
          'The key comes from s3_key, else filename.'
      })
    } else if (tool === downloadBase64) {
      mcp.push(fromRegistry(tool, async (context, args) => answered(await callRoute(context, tool, { ...args, max_bytes: Math.min(context.inlineMax, numberOr(args.max_bytes, context.inlineMax)) })), without(tool, 'generate_presigned_url', 'presigned_expiration')))
    } else if (tool === uploadBase64) {
      mcp.push({
        ...fromRegistry(tool, async (context, args) => {
          const text = typeof args.file_base64 === 'string' ? args.file_base64 : ''
          if (text.length > encodedLength(context.inlineMax) + 1024) {
            return failure(new AppError('PAYLOAD_TOO_LARGE', `file_base64 is over the ${context.inlineMax} bytes a model may send; upload the file from a URL with s3_upload_from_url`))
          }
          return answered(await callRoute(context, tool, args))
        }, without(tool, 'generate_presigned_url', 'presigned_expiration')),
        description: `${tool.description} Only for small content (up to the inline limit, 1 MiB by default).`
      })
    } else {
      mcp.push(fromRegistry(tool))
    }
  }
  mcp.push(UPLOAD_TEXT, READ_TEXT)
  return mcp
}

const numberOr = (value: unknown, fallback: number): number => {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN
  return Number.isSafeInteger(n) ? n : fallback
}

const keyArgs = (args: Args): Args => ({ s3_key: args.s3_key, filename: args.filename })
const callerKey = (args: Args): string => String(args.s3_key !== undefined && args.s3_key !== '' ? args.s3_key : args.filename ?? '').replace(/^\/+/, '')

/** s3_download_file: the bytes inline up to MCP_INLINE_MAX_BYTES (max_bytes keeps them there), else the too_large answer's URL */
async function downloadInline (context: CallContext, args: Args): Promise<CallToolResult> {
  const called = await inject(context, { method: 'GET', url: `/download/file${queryOf({ ...keyArgs(args), presigned_expiration: args.presigned_expiration, max_bytes: context.inlineMax })}` })
  if (called.status >= 400 || isJson(called)) return answered(called)
  const key = callerKey(args)
  const mimeType = String(called.headers['content-type'] ?? 'application/octet-stream')
  const meta = {
    bucket: context.app.store.bucket,
    key,
    size: called.body.length,
    content_type: mimeType,
    etag: String(called.headers.etag ?? ''),
    inline: true
  }
  return {
    content: [
      { type: 'resource', resource: { uri: `s3://${meta.bucket}/${encodeURI(key)}`, mimeType, blob: called.body.toString('base64') } },
      { type: 'text', text: JSON.stringify(meta) }
    ],
    structuredContent: meta
  }
}

const TEXT_PARAMS: Array<[string, ParamSpec]> = [
  ['s3_key', { type: 'string', description: 'Object key to write, e.g. "notes/2025/summary.md".', example: 'notes/summary.md' }],
  ['text', { type: 'string', description: 'The text to store, as UTF-8.', example: 'Meeting notes: …' }],
  ['content_type', { type: 'string', description: 'Content-Type to store (default text/plain; charset=utf-8).', example: 'text/markdown; charset=utf-8' }]
]

const UPLOAD_TEXT: McpTool = {
  name: 's3_upload_text',
  description: 'Store text as an object at s3_key (UTF-8), replacing any object there. Answers the key, size, ETag and SHA-256. For files, use s3_upload_from_url.',
  permission: 'write',
  annotations: { readOnly: false, destructive: true, idempotent: true },
  params: TEXT_PARAMS,
  required: ['s3_key', 'text'],
  call: async (context, args) => {
    if (typeof args.text !== 'string') return failure(new AppError('MISSING_FILE', 'Missing required parameter: text'))
    const type = typeof args.content_type === 'string' && args.content_type !== '' ? args.content_type : 'text/plain; charset=utf-8'
    return answered(await inject(context, {
      method: 'POST',
      url: `/upload/file${queryOf({ s3_key: args.s3_key, content_type: type })}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from(args.text, 'utf8')
    }))
  }
}

const READ_TEXT: McpTool = {
  name: 's3_read_text',
  description: 'Read an object as UTF-8 text (up to the inline limit, 1 MiB by default). For a larger object read a part with range, e.g. "bytes=0-65535"; the answer gives the object\'s size. ' +
    'Fails with INVALID_PARAMETER when the bytes are not UTF-8 text.',
  permission: 'read',
  annotations: { readOnly: true, destructive: false, idempotent: true },
  params: [
    ['s3_key', { type: 'string', description: 'Object key to read.', example: 'notes/summary.md' }],
    ['range', { type: 'string', description: 'Only these bytes: "bytes=0-1023", "0-1023" or "bytes=-1024" (the last 1 KiB).', example: 'bytes=0-65535' }]
  ],
  required: ['s3_key'],
  call: async (context, args) => {
    const raw = typeof args.range === 'string' ? args.range.trim() : ''
    const range = raw === '' ? undefined : /^bytes=/i.test(raw) ? raw : `bytes=${raw}`
    const called = await inject(context, {
      method: 'GET',
      url: `/download/file${queryOf({ s3_key: args.s3_key, max_bytes: context.inlineMax })}`,
      headers: range !== undefined ? { range } : {}
    })
    if (called.status >= 400) return answered(called)
    if (isJson(called)) {
      const big = JSON.parse(called.body.toString('utf8')) as { size?: number }
      return failure(new AppError('PAYLOAD_TOO_LARGE', `The ${range !== undefined ? 'range' : 'object'} is more than ${context.inlineMax} bytes (the object has ${big.size ?? '?'}); read it in parts with range, e.g. "bytes=0-65535"`))
    }
    const contentRange = called.headers['content-range']
    let text: string
    try {
      // a range may cut a character in two: only a whole object must be valid UTF-8
      text = new TextDecoder('utf-8', { fatal: contentRange === undefined }).decode(called.body)
    } catch {
      return failure(new AppError('INVALID_PARAMETER', 'The object is not UTF-8 text; download it with s3_download_file'))
    }
    const total = typeof contentRange === 'string' ? Number(contentRange.split('/')[1]) : called.body.length
    return json({
      bucket: context.app.store.bucket,
      key: callerKey(args),
      size: Number.isFinite(total) ? total : called.body.length,
      content_type: String(called.headers['content-type'] ?? ''),
      range: typeof contentRange === 'string' ? contentRange : null,
      text
    })
  }
}

/** A parameter as an MCP client reads it: one plain type (numbers and booleans may still arrive as strings) */
type JsonValue = string | number | boolean | null | JsonValue[] | { [name: string]: JsonValue }

function inputProperty (param: ParamSpec): { [name: string]: JsonValue } {
  const type = param.type === 'integer' ? 'integer' : param.type === 'boolean' ? 'boolean' : 'string'
  return { type, description: param.description, ...(param.example !== undefined ? { examples: [param.example as JsonValue] } : {}) }
}

export function listing (tool: McpTool): Tool {
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: {
      type: 'object',
      properties: Object.fromEntries(tool.params.map(([name, param]) => [name, inputProperty(param)])),
      ...(tool.required.length > 0 ? { required: tool.required } : {})
    },
    annotations: { readOnlyHint: tool.annotations.readOnly, destructiveHint: tool.annotations.destructive, idempotentHint: tool.annotations.idempotent, openWorldHint: false }
  }
}

export interface McpOptions {
  tools: readonly ToolSpec[]
  version: string
  inlineMax: number
  /** origins a browser may call /mcp from (PUBLIC_URL's, MCP_ALLOWED_ORIGINS); loopback ones always */
  allowedOrigins: string[]
  /** with auth off: the Host names accepted (loopback, PUBLIC_URL's host) */
  allowedHosts: string[] | undefined
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

/** DNS rebinding: a browser's Origin must be one we know; with auth off, the Host too */
function rebindingRefusal (request: FastifyRequest, options: McpOptions): AppError | undefined {
  const origin = request.headers.origin
  if (origin !== undefined) {
    let known = false
    try {
      const url = new URL(origin)
      known = LOOPBACK.has(url.hostname) || options.allowedOrigins.includes(url.origin)
    } catch {}
    if (!known) return new AppError('FORBIDDEN', `Origin ${JSON.stringify(origin.slice(0, 100))} may not call /mcp (set MCP_ALLOWED_ORIGINS to allow it)`)
  }
  if (options.allowedHosts !== undefined) {
    const host = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase()
    if (!LOOPBACK.has(host) && !options.allowedHosts.includes(host)) return new AppError('FORBIDDEN', `Host ${JSON.stringify(host.slice(0, 100))} is not this server's (DNS rebinding protection: set PUBLIC_URL to the host clients use)`)
  }
  return undefined
}

/**
 * The MCP SDK, loaded by the first /mcp request: with zod, it is ~10 MiB of
 * heap (the service's idle peak went 112 → 101 MiB) that a service used only
 * as an HTTP tool never needs, and that every memory peak of the transfers
 * would otherwise carry.
 */
interface McpSdk {
  Server: typeof import('@modelcontextprotocol/server').Server
  ProtocolError: typeof import('@modelcontextprotocol/server').ProtocolError
  NodeStreamableHTTPServerTransport: typeof import('@modelcontextprotocol/node').NodeStreamableHTTPServerTransport
}
let sdk: Promise<McpSdk> | undefined
async function loadSdk (): Promise<McpSdk> {
  if (sdk === undefined) {
    sdk = Promise.all([import('@modelcontextprotocol/server'), import('@modelcontextprotocol/node')]).then(([server, node]) => ({
      Server: server.Server, ProtocolError: server.ProtocolError, NodeStreamableHTTPServerTransport: node.NodeStreamableHTTPServerTransport
    }))
    // a failed load is tried again by the next request
    sdk.catch(() => { sdk = undefined })
  }
  return await sdk
}

async function answerMcp (request: FastifyRequest, reply: FastifyReply, options: McpOptions, tools: McpTool[]): Promise<void> {
  const refusal = rebindingRefusal(request, options)
  if (refusal !== undefined) throw refusal
  const { Server, ProtocolError, NodeStreamableHTTPServerTransport } = await loadSdk()
  const app = request.server
  const visible = tools.filter((tool) => hasPermission(request, tool.permission))
  const server = new Server({ name: 'dify-s3-gateway', version: options.version }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS })
  server.setRequestHandler('tools/list', async () => ({ tools: visible.map(listing) }))
  server.setRequestHandler('tools/call', async (call) => {
    const tool = visible.find((t) => t.name === call.params.name)
    if (tool === undefined) {
      if (tools.some((t) => t.name === call.params.name)) return failure(new AppError('FORBIDDEN', `The API key "${request.caller.name}" may not use ${call.params.name}: it lacks the "${tools.find((t) => t.name === call.params.name)?.permission ?? ''}" permission`))
      throw new ProtocolError(INVALID_PARAMS, `Unknown tool: ${call.params.name}`)
    }
    return await tool.call({ app, request, inlineMax: options.inlineMax }, (call.params.arguments ?? {}) as Args)
  })
  const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
  await server.connect(transport)
  // the transport writes the answer itself: what Fastify would add, added here
  reply.hijack()
  reply.raw.setHeader('x-request-id', request.id)
  reply.raw.on('close', () => {
    transport.close().catch(() => {})
    server.close().catch(() => {})
  })
  await transport.handleRequest(request.raw, reply.raw, request.body)
}

export default async function mcpFace (app: FastifyInstance, options: McpOptions): Promise<void> {
  const tools = mcpTools(options.tools)
  // the JSON-RPC body: small, but an inline base64 upload is 4/3 of MCP_INLINE_MAX_BYTES
  const bodyLimit = encodedLength(options.inlineMax) + 1024 * 1024
  app.post('/mcp', { bodyLimit }, async (request, reply) => { await answerMcp(request, reply, options, tools) })
  // stateless: no SSE stream to open, no session to end
  const notHere = async (): Promise<never> => { throw new AppError('METHOD_NOT_ALLOWED', 'This MCP server is stateless and answers JSON: POST /mcp only (no SSE stream, no session)', { headers: { allow: 'POST' } }) }
  app.get('/mcp', { config: { public: true } }, notHere)
  app.delete('/mcp', { config: { public: true } }, notHere)
  // OAuth discovery finds nothing, so that MCP clients (Dify) use the static key instead of starting an OAuth flow
  app.get('/.well-known/*', { config: { public: true } }, async (request) => { throw new AppError('ROUTE_NOT_FOUND', `No route GET ${request.url.split('?')[0] ?? ''}: this server takes API keys, not OAuth`) })
}

// buildApp(config, deps): the whole service as a Fastify instance — what
// server.ts starts and what tests build.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Config } from './config.js'
import { KeyRing, weakKeysProblem } from './auth/keys.js'
import authPlugin from './plugins/auth.js'
import earlyAnswers from './plugins/early-answers.js'
import errorsPlugin, { answerClientError } from './plugins/errors.js'
import metricsPlugin from './plugins/metrics.js'
import overloadPlugin from './plugins/overload.js'
import type { MemoryPacer } from './transfer/memory-pacer.js'
import { ObjectStore } from './s3/store.js'
import { FileFetcher } from './dify/file-url.js'
import { loadRouteTable, PLUGIN_ROOT } from './dify/endpoints.js'
import companionRoutes from './routes/companion.js'
import uploadPage from './routes/upload-page.js'
import docsRoutes from './routes/docs.js'
import healthRoutes from './routes/health.js'
import httpFace from './faces/http.js'
import mcpFace from './faces/mcp.js'
import { VERSION } from './version.js'
import { AppError, errorJson } from './errors.js'
import { TOOLS } from './tools/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    store: ObjectStore
    fileFetcher: FileFetcher
    /** shutdown has begun: /readyz answers 503 and every answer closes its connection */
    draining: boolean
    /** the memory pacer, when the process runs one (server.ts) */
    pacer: MemoryPacer | undefined
  }
}

export interface AppDeps {
  store?: ObjectStore
  /** false: no logging; a stream: log lines go there (tests read them) */
  logger?: false | { stream: DestinationStream }
  /** export the process's CPU, memory and GC metrics too (once per process: server.ts) */
  processMetrics?: boolean
  /** where manifest.yaml and endpoints/ are (the repository root by default) */
  pluginRoot?: string
  /** scavenges paced by buffer memory while transfers run (once per process: server.ts) */
  pacer?: MemoryPacer
}

export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie']

/** pino-pretty is a development dependency: absent from production installs */
function prettyTransport (): { target: string, options: Record<string, unknown> } | undefined {
  try {
    return { target: import.meta.resolve('pino-pretty'), options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }
  } catch {
    return undefined
  }
}

/** query parameters that carry credentials wherever they appear, configured or not (a key sent by mistake, a signature) */
const CREDENTIAL_PARAM = /^(api[_-]?key|apikey|access[_-]?token|token|auth|authorization|password|secret|sign|signature|x-amz-signature|x-amz-credential|x-amz-security-token)$/i

/**
 * A request's URL for the log: a file_url in the query is a signed Dify URL (a
 * credential for 5 minutes), and API_KEY_QUERY_PARAM a key; a parameter named
 * like a credential (api_key, token, sign, X-Amz-Signature, …) is redacted
 * even when no setting names it. Parameters are matched by their decoded
 * name, so that `file%5Furl=` is redacted too.
 */
export function loggedUrl (url: string, secretParams: readonly string[] = ['file_url']): string {
  const at = url.indexOf('?')
  if (at === -1) return url
  const pairs = url.slice(at + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    const raw = eq === -1 ? pair : pair.slice(0, eq)
    let name = raw
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '))
    } catch {}
    return secretParams.includes(name) || CREDENTIAL_PARAM.test(name) ? `${raw}=[redacted]` : pair
  })
  return `${url.slice(0, at)}?${pairs.join('&')}`
}

/** A caller's X-Request-Id when it is a plain token, else a fresh one: ids land in logs verbatim. */
export function requestId (request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && /^[\w.:@-]{1,128}$/.test(given) ? given : randomUUID()
}

/**
 * A rolling restart a proxy never notices: from the moment close() is called,
 * every answer says `Connection: close` (Node then closes the connection after
 * it), so a connection a proxy keeps in its pool serves at most one more
 * request. An idle connection is not closed under the proxy's feet: a proxy
 * may be writing a request on it at that very moment, and an upload whose
 * body it has begun to stream cannot be sent elsewhere (nginx answers 502).
 * Idle connections are closed only once no request has started or run for
 * `idleMs` (a proxy sending here would have used them by then; one routing
 * elsewhere has marked us down), or by SHUTDOWN_TIMEOUT_MS's cut. The process
 * exits once the last connection is gone.
 */
function drainOnClose (app: FastifyInstance, idleMs: number): void {
  let draining = false
  let lastActivity = Date.now()
  const running = new Set<import('node:http').ServerResponse>()
  app.decorate('draining', { getter: () => draining })
  const server = app.server
  // Node's server.close() (and Fastify's) would close idle connections at
  // once: during the drain that waits for the quiet below
  const closeIdle = server.closeIdleConnections.bind(server)
  server.closeIdleConnections = () => { if (!draining) closeIdle() }
  app.addHook('onRequest', async (_request, reply) => {
    lastActivity = Date.now()
    running.add(reply.raw)
    reply.raw.once('close', () => { running.delete(reply.raw); lastActivity = Date.now() })
    if (draining) reply.header('connection', 'close')
  })
  app.addHook('preClose', async () => {
    draining = true
    // an answer whose headers are out said keep-alive: its connection turns idle after it
    for (const response of running) if (!response.headersSent) response.setHeader('connection', 'close')
    if (!server.listening) return
    if (idleMs === 0) closeIdle()
    const poll = setInterval(() => {
      if (running.size === 0 && Date.now() - lastActivity >= idleMs) closeIdle()
    }, Math.max(10, Math.min(100, idleMs)))
    server.once('close', () => { clearInterval(poll) })
  })
}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const secretParams = ['file_url', ...(config.keySources.queryParam !== undefined ? [config.keySources.queryParam] : [])]
  const transport = deps.logger === undefined && config.logFormat === 'pretty' ? prettyTransport() : undefined
  const app = Fastify({
    logger: deps.logger === false
      ? false
      : {
          level: config.logLevel,
          redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
          serializers: {
            req: (request: { method: string, url: string, hostname?: string, ip?: string, socket?: { remotePort?: number } }) =>
              ({ method: request.method, url: loggedUrl(request.url, secretParams), host: request.hostname, remoteAddress: request.ip, remotePort: request.socket?.remotePort })
          },
          ...(deps.logger !== undefined ? { stream: deps.logger.stream } : {}),
          ...(transport !== undefined ? { transport } : {})
        },
    // every log line of a request carries its id (reqId), and so does the answer
    genReqId: requestId,
    requestIdHeader: false,
    // JSON bodies; uploads stream past this (their limit is MAX_UPLOAD_BYTES)
    bodyLimit: 1024 * 1024,
    // no overall request deadline: a 5 GiB upload over a slow link must not be
    // cut; a silent connection is dropped by the idle timeout instead
    requestTimeout: 0,
    connectionTimeout: 5 * 60_000,
    keepAliveTimeout: 72_000,
    exposeHeadRoutes: false,
    // during shutdown a request already on an open connection is served (and
    // its connection then closed: drainOnClose()); new connections are refused
    return503OnClosing: false,
    // a malformed URL (/metrics%ff) answers in the contract's shape
    frameworkErrors: (err, _request, reply) => {
      const failure = new AppError('INVALID_PARAMETER', err.code === 'FST_ERR_BAD_URL' ? 'Malformed URL: its path is not valid percent-encoding' : 'Malformed request')
      const answer = reply as unknown as FastifyReply
      answer.code(failure.statusCode).type('application/json; charset=utf-8').send(errorJson(failure))
    },
    // idle connections are closed by drainOnClose(), once the drain is quiet
    forceCloseConnections: false,
    clientErrorHandler: answerClientError,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } }
  })
  // the SDK logs every failed call (a 404 included) and warns about unretried
  // streams: expected here, so only at debug level, and never the call's input
  const sdkLog = (...args: unknown[]): void => { app.log.debug({ sdk: args.map((a) => a instanceof Error ? a.message : typeof a === 'string' ? a : (a as { commandName?: string })?.commandName) }, 'aws-sdk') }
  const store = deps.store ?? new ObjectStore(config.s3, { debug: () => {}, info: () => {}, warn: sdkLog, error: sdkLog }, config.maxUploadBytes)
  app.decorate('config', config)
  app.decorate('store', store)
  app.decorate('pacer', deps.pacer)
  if (deps.store === undefined) {
    app.addHook('onClose', async () => {
      // an upload cut by shutdown is still aborting its multipart upload: let it
      await store.settle(config.s3.timeoutMs)
      store.destroy()
    })
  }
  const fileFetcher = new FileFetcher(config.fileUrl)
  app.decorate('fileFetcher', fileFetcher)
  app.addHook('onClose', async () => { await fileFetcher.close() })

  // the tools' JSON routes take JSON only (Fastify also parses text/plain by default);
  // /upload/file sets up its own parsers
  app.removeContentTypeParser('text/plain')
  // a JSON answer ends with a newline, as a line of text does (curl prints it tidily)
  app.addHook('onSend', async (_request, reply, payload) => {
    if (typeof payload !== 'string' || payload.endsWith('\n')) return payload
    const type = reply.getHeader('content-type')
    return typeof type === 'string' && /^application\/(?:[\w.+-]+\+)?json\b/.test(type) ? `${payload}\n` : payload
  })
  await app.register(errorsPlugin)
  // first, so that requests refused by auth are counted too
  await app.register(metricsPlugin, { processMetrics: deps.processMetrics === true, pacer: deps.pacer })
  app.addHook('onRequest', async (request, reply) => { reply.header('x-request-id', request.id) })
  drainOnClose(app, config.shutdownIdleMs)
  await app.register(authPlugin, { ring: config.authDisabled ? new KeyRing([], undefined, []) : new KeyRing(config.fixedKeys, config.apiKeysFile, config.keys, config.production ? weakKeysProblem : undefined), sources: config.keySources })
  await app.register(earlyAnswers)
  await app.register(overloadPlugin, { maxTransfers: config.maxConcurrentTransfers, pacer: deps.pacer })
  await app.register(healthRoutes)
  await app.register(docsRoutes)
  await app.register(httpFace, { table: loadRouteTable(deps.pluginRoot ?? PLUGIN_ROOT), tools: [...TOOLS] })
  await app.register(companionRoutes)
  if (config.uploadPage) await app.register(uploadPage)
  const publicUrl = new URL(config.publicUrl)
  await app.register(mcpFace, {
    tools: TOOLS,
    version: VERSION,
    inlineMax: config.mcp.inlineMaxBytes,
    allowedOrigins: [publicUrl.origin, ...config.mcp.allowedOrigins],
    // without keys anyone who can reach the port may call: then the Host must be ours too
    allowedHosts: config.keys.length === 0 || config.authDisabled ? [publicUrl.hostname.toLowerCase(), config.host.toLowerCase()] : undefined
  })
  return app
}

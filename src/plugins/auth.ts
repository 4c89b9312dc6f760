// API keys: `Authorization: Bearer <key>` or `X-API-Key` (the Bearer one counts
// when both are sent), compared in constant time against the key ring. Routes
// flagged `config: { public: true }` need none. Checked on request, before any
// body is read; `Expect: 100-continue` requests are checked before the body is
// even sent (early-answers.ts). A known key becomes `request.caller` (its
// name, permissions, prefix, upload limit), and a route's `permission` is
// enforced here, for every route in one place; handlers check the extra
// permissions an option asks for (presigned URLs, a move's delete) through
// src/auth/scope.ts.
import type { IncomingHttpHeaders } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'
import type { KeyRing, Permission } from '../auth/keys.js'
import { ANONYMOUS, callerOf, forbidden, type Caller } from '../auth/scope.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean
    /** what the route's tool needs (the tool registry declares it) */
    permission?: Permission
    /** the tool's name, for the 403 message */
    tool?: string
  }
  interface FastifyInstance {
    /** the accepted keys; server.ts reloads them on SIGHUP */
    keyRing: KeyRing
    /** the Caller a request's headers and URL present, or the 401 to answer */
    authenticate: (headers: IncomingHttpHeaders, url?: string) => Caller | AppError
  }
}

/** Where else a key may come from (API_KEY_HEADER, API_KEY_QUERY_PARAM) */
export interface KeySources {
  header?: string | undefined
  queryParam?: string | undefined
}

/** What a request sent as its key: the candidates to try and how it came, or why it cannot be a key */
export interface Presented { keys: string[], form: string, problem?: string }

const first = (value: string | string[] | undefined): string | undefined => {
  const one = Array.isArray(value) ? value[0] : value
  return one !== undefined && one.trim() !== '' ? one.trim() : undefined
}

/** `Basic <x>`: Dify puts the raw key there; a client may send base64(user:key) */
function basicCandidates (token: string): string[] {
  const decoded = Buffer.from(token, 'base64').toString('utf8')
  const canonical = Buffer.from(decoded, 'utf8').toString('base64').replace(/=+$/, '') === token.replace(/=+$/, '')
  const colon = decoded.indexOf(':')
  return canonical && colon !== -1 && !/\p{Cc}/u.test(decoded) ? [token, decoded.slice(colon + 1)] : [token]
}

/**
 * The key a request presents (API.md "Dify's ways of sending a key"):
 * Authorization first — `Bearer <key>` (a doubled `Bearer Bearer` too),
 * `Basic <key>` or `Basic base64(user:key)`, or a bare key — then X-API-Key,
 * then API_KEY_HEADER, then API_KEY_QUERY_PARAM. Undefined when none is sent.
 */
export function presentedKey (headers: IncomingHttpHeaders, url?: string, sources: KeySources = {}): Presented | undefined {
  const authorization = first(headers.authorization)
  if (authorization !== undefined) {
    const bearer = /^Bearer\s+(?:Bearer\s+)?(\S+)$/i.exec(authorization)
    if (bearer?.[1] !== undefined) return { keys: [bearer[1]], form: 'Authorization: Bearer' }
    const basic = /^Basic\s+(\S+)$/i.exec(authorization)
    if (basic?.[1] !== undefined) return { keys: basicCandidates(basic[1]), form: 'Authorization: Basic' }
    if (/^\S+$/.test(authorization)) return { keys: [authorization], form: 'a bare key in Authorization' }
    const scheme = authorization.split(/\s+/)[0] ?? ''
    return { keys: [], form: 'Authorization', problem: `an Authorization header with an unknown scheme (${scheme.slice(0, 20)}): send "Bearer <key>", "Basic <key>", the bare key, or X-API-Key` }
  }
  const apiKey = first(headers['x-api-key'])
  if (apiKey !== undefined) return { keys: [apiKey], form: 'X-API-Key' }
  if (sources.header !== undefined) {
    const custom = first(headers[sources.header])
    if (custom !== undefined) return { keys: [custom], form: `the ${sources.header} header` }
  }
  if (sources.queryParam !== undefined && url !== undefined) {
    const query = new URLSearchParams(url.split('?')[1] ?? '')
    const value = query.get(sources.queryParam)
    if (value !== null && value.trim() !== '') return { keys: [value.trim()], form: `the ${sources.queryParam} query parameter` }
  }
  return undefined
}

/** Who the request says is calling: a Caller, or the 401 to answer. With no keys at all, auth is off. */
export function authenticate (ring: KeyRing, headers: IncomingHttpHeaders, url?: string, sources: KeySources = {}): Caller | AppError {
  if (ring.size === 0) return ANONYMOUS
  const presented = presentedKey(headers, url, sources)
  if (presented === undefined) {
    const also = [sources.header, sources.queryParam !== undefined ? `?${sources.queryParam}=` : undefined].filter((s) => s !== undefined)
    return unauthorized(`Missing API key: send Authorization: Bearer <key> or X-API-Key: <key>${also.length > 0 ? ` (or ${also.join(', ')})` : ''}`)
  }
  if (presented.problem !== undefined) return unauthorized(`Invalid API key: ${presented.problem}`)
  for (const candidate of presented.keys) {
    const key = ring.match(candidate)
    if (key !== undefined) return callerOf(key)
  }
  return unauthorized(`Invalid API key (sent as ${presented.form})`)
}

function unauthorized (message: string): AppError {
  return new AppError('UNAUTHORIZED', message, { headers: { 'www-authenticate': 'Bearer' } })
}

async function authPlugin (app: FastifyInstance, options: { ring: KeyRing, sources: KeySources }): Promise<void> {
  app.decorate('keyRing', options.ring)
  app.decorate('authenticate', (headers: IncomingHttpHeaders, url?: string) => authenticate(options.ring, headers, url, options.sources))
  app.decorateRequest('caller', null as unknown as Caller)
  app.addHook('onRequest', async (request, reply) => {
    const { config } = request.routeOptions
    if (config.public === true) {
      request.caller = ANONYMOUS
      return
    }
    const caller = authenticate(options.ring, request.headers, request.url, options.sources)
    if (caller instanceof AppError) throw caller
    request.caller = caller
    // every later line of this request names the key (never the key itself)
    if (caller !== ANONYMOUS) {
      request.log = request.log.child({ key_name: caller.name })
      // "request completed" is logged through the reply's logger
      reply.log = request.log
    }
    if (config.permission !== undefined && !caller.permissions.has(config.permission)) {
      throw forbidden(caller, config.permission, `use ${config.tool ?? request.routeOptions.url ?? 'this route'}`)
    }
  })
}

export default fp(authPlugin, { name: 'auth' })

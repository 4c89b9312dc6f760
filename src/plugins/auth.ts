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
  }
}

/** The key a request presents, if any. */
export function presentedKey (headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization
  const bearer = authorization !== undefined ? /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined
  if (bearer !== undefined) return bearer
  const header = headers['x-api-key']
  const key = Array.isArray(header) ? header[0] : header
  return key !== undefined && key.trim() !== '' ? key.trim() : undefined
}

/** Who the headers say is calling: a Caller, or the 401 to answer. With no keys at all, auth is off. */
export function authenticate (ring: KeyRing, headers: IncomingHttpHeaders): Caller | AppError {
  if (ring.size === 0) return ANONYMOUS
  const presented = presentedKey(headers)
  if (presented === undefined) return unauthorized('Missing API key: send Authorization: Bearer <key> or X-API-Key: <key>')
  const key = ring.match(presented)
  return key !== undefined ? callerOf(key) : unauthorized('Invalid API key')
}

function unauthorized (message: string): AppError {
  return new AppError('UNAUTHORIZED', message, { headers: { 'www-authenticate': 'Bearer' } })
}

async function authPlugin (app: FastifyInstance, options: { ring: KeyRing }): Promise<void> {
  app.decorate('keyRing', options.ring)
  app.decorateRequest('caller', null as unknown as Caller)
  app.addHook('onRequest', async (request, reply) => {
    const { config } = request.routeOptions
    if (config.public === true) {
      request.caller = ANONYMOUS
      return
    }
    const caller = authenticate(options.ring, request.headers)
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

// API keys: `Authorization: Bearer <key>` or `X-API-Key` (the Bearer one counts
// when both are sent), compared in constant time. Routes flagged
// `config: { public: true }` need none. Checked on request, before any body is
// read; `Expect: 100-continue` requests are checked before the body is even sent.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/** The key a request presents, if any. */
export function presentedKey (headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization
  const bearer = authorization !== undefined ? /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined
  if (bearer !== undefined) return bearer
  const header = headers['x-api-key']
  const key = Array.isArray(header) ? header[0] : header
  return key !== undefined && key.trim() !== '' ? key.trim() : undefined
}

/** A checker over the accepted keys; it compares against every key, so timing tells nothing. */
export function keyChecker (keys: readonly string[]): (headers: IncomingHttpHeaders) => AppError | undefined {
  const accepted = keys.map(digest)
  return (headers) => {
    if (accepted.length === 0) return undefined
    const key = presentedKey(headers)
    if (key === undefined) return unauthorized('Missing API key: send Authorization: Bearer <key> or X-API-Key: <key>')
    const presented = digest(key)
    let ok = false
    for (const candidate of accepted) ok = timingSafeEqual(candidate, presented) || ok
    return ok ? undefined : unauthorized('Invalid API key')
  }
}

function unauthorized (message: string): AppError {
  return new AppError('UNAUTHORIZED', message, { headers: { 'www-authenticate': 'Bearer' } })
}

async function authPlugin (app: FastifyInstance, options: { keys: readonly string[] }): Promise<void> {
  const check = keyChecker(options.keys)
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.public === true) return
    const failure = check(request.headers)
    if (failure !== undefined) throw failure
  })
}

export default fp(authPlugin, { name: 'auth' })

// Answer 401 and 413 before the body is read, where the request allows it
// (API.md "Errors"): from Content-Length on every request, and before the body
// is even sent for `Expect: 100-continue` (Node answers 100 before any Fastify
// hook runs unless the server handles 'checkContinue' itself).
import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError, errorJson, payloadTooLarge } from '../errors.js'
import type { Permission } from '../auth/keys.js'
import { forbidden } from '../auth/scope.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the largest body the route takes, checked against Content-Length up front */
    maxBodyBytes?: number
  }
}

interface RouteLimits { isPublic: boolean, maxBodyBytes: number, permission: Permission | undefined, tool: string | undefined }

function declaredLength (request: IncomingMessage): number | undefined {
  const header = request.headers['content-length']
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined
}

function tooLarge (request: IncomingMessage, limits: RouteLimits | undefined): AppError | undefined {
  const length = declaredLength(request)
  if (limits === undefined || length === undefined || length <= limits.maxBodyBytes) return undefined
  return payloadTooLarge(limits.maxBodyBytes, 'request body')
}

async function earlyAnswers (app: FastifyInstance): Promise<void> {
  const routes = new Map<string, RouteLimits>()
  const limitsOf = (method: string | undefined, url: string | undefined): RouteLimits | undefined =>
    routes.get(`${method ?? ''} ${(url ?? '').split('?')[0] ?? ''}`)

  app.addHook('onRoute', (route) => {
    const limits = {
      isPublic: route.config?.public === true,
      maxBodyBytes: route.config?.maxBodyBytes ?? route.bodyLimit ?? app.initialConfig.bodyLimit ?? 1024 * 1024,
      permission: route.config?.permission,
      tool: route.config?.tool
    }
    for (const method of [route.method].flat()) routes.set(`${method} ${route.url}`, limits)
  })

  // after auth (registered earlier), so that a stranger learns nothing about sizes
  app.addHook('onRequest', async (request) => {
    const failure = tooLarge(request.raw, limitsOf(request.method, request.url))
    if (failure !== undefined) throw failure
  })

  /** the 401 or 403 the auth hook would answer */
  const refusal = (request: IncomingMessage, limits: RouteLimits | undefined): AppError | undefined => {
    const caller = app.authenticate(request.headers, request.url)
    if (caller instanceof AppError) return caller
    const permission = limits?.permission
    return permission !== undefined && !caller.permissions.has(permission) ? forbidden(caller, permission, `use ${limits?.tool ?? 'this route'}`) : undefined
  }

  // Node answers any other Expect with an empty 417 unless told otherwise
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const failure = new AppError('EXPECTATION_FAILED', `Expect: ${String(request.headers.expect).slice(0, 40)} is not supported (only 100-continue is)`)
    request.resume()
    answerAndClose(response, failure)
  })

  app.server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    const limits = limitsOf(request.method, request.url)
    const failure = (limits?.isPublic === true ? undefined : refusal(request, limits)) ?? tooLarge(request, limits)
    if (failure === undefined) {
      response.writeContinue()
      app.server.emit('request', request, response)
      return
    }
    // the body was never sent: answer and close, there is nothing to drain
    answerAndClose(response, failure)
  })
}

/** An error answered before Fastify sees the request, on a connection that then closes */
function answerAndClose (response: ServerResponse, failure: AppError): void {
  response.writeHead(failure.statusCode, { ...failure.headers, 'content-type': 'application/json; charset=utf-8', connection: 'close' })
  response.end(errorJson(failure))
}

export default fp(earlyAnswers, { name: 'early-answers' })

// One error handler: every failure answers JSON in Fastify's shape with a
// stable code (API.md "Errors"); unknown routes and methods too.
import type { Socket } from 'node:net'
import { STATUS_CODES, type ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import { AppError, errorBody, type ErrorCode } from '../errors.js'

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_PARAMETER',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_PARAMETER',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_PARAMETER',
  FST_PROTO_VIOLATION: 'INVALID_PARAMETER',
  FST_ERR_VALIDATION: 'INVALID_PARAMETER'
}

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_PARAMETER',
  401: 'UNAUTHORIZED',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE'
}

/** Any thrown thing → the AppError it answers as. */
export function asAppError (err: unknown): AppError {
  if (err instanceof AppError) return err
  const e = err as Partial<FastifyError> & { validation?: unknown }
  if (e.validation !== undefined) return new AppError('INVALID_PARAMETER', e.message ?? 'Invalid parameter', { cause: err })
  const code = (e.code !== undefined ? FASTIFY_CODES[e.code] : undefined) ??
    (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? BY_STATUS[e.statusCode] ?? 'INVALID_PARAMETER' : undefined)
  if (code === 'UNSUPPORTED_MEDIA_TYPE') {
    return new AppError(code, 'Unsupported Content-Type: this route takes application/json (POST /upload/file also takes multipart/form-data or a raw body)', { cause: err })
  }
  if (code !== undefined) return new AppError(code, e.message ?? code, { cause: err })
  // busboy's parse errors: the body is not the multipart it claims to be
  if (/^(Malformed|Unexpected end of|Multipart:)/i.test(e.message ?? '')) {
    return new AppError('MISSING_FILE', `Malformed multipart body: ${e.message ?? ''}`, { cause: err })
  }
  return new AppError('INTERNAL_ERROR', 'Internal server error', { cause: err })
}

/**
 * Requests Node's HTTP parser refuses (both Content-Length and
 * Transfer-Encoding, bad framing, oversized headers) never reach a route: answer
 * them in the same JSON shape, then close.
 */
export function answerClientError (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const [statusCode, code, message] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'PAYLOAD_TOO_LARGE', 'The request headers are too large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'INVALID_PARAMETER', 'The request headers did not arrive in time']
      : [400, 'INVALID_PARAMETER', `Malformed HTTP request (${err.code ?? 'parse error'})`]
  const body = `${JSON.stringify({ statusCode, code, error: STATUS_CODES[statusCode], message })}\n`
  const answer = (): void => {
    if (!socket.writable) {
      socket.destroy()
      return
    }
    socket.end(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  // answers stay in order on a keep-alive connection: when an earlier request
  // (whole: the error is not in its body) is still being answered, its answer
  // goes first, this one after it, then the close
  const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  if (pending != null && !pending.writableFinished && pending.req?.complete === true) {
    pending.once('finish', answer)
    pending.once('close', () => { if (!pending.writableFinished) socket.destroy() })
    return
  }
  answer()
}

export interface RouteEntry { method: string, url: string, public: boolean }

declare module 'fastify' {
  interface FastifyInstance {
    /** every route the app serves, with its auth flag (the route-inventory test reads it) */
    routeInventory: () => RouteEntry[]
  }
}

async function errorsPlugin (app: FastifyInstance): Promise<void> {
  // every route, also to tell 405 from 404
  const inventory: RouteEntry[] = []
  app.decorate('routeInventory', () => [...inventory])
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) inventory.push({ method, url: route.url, public: route.config?.public === true })
  })

  app.setErrorHandler((err, request, reply) => {
    const appErr = asAppError(err)
    if (appErr.statusCode >= 500) request.log.error({ err }, appErr.message)
    else request.log.info({ code: appErr.code }, appErr.message)
    // a body we did not read to the end: close the connection after answering
    if (!request.raw.complete) reply.header('connection', 'close')
    return reply.code(appErr.statusCode).headers(appErr.headers).send(errorBody(appErr))
  })

  app.setNotFoundHandler((request) => {
    const path = request.url.split('?')[0] ?? '/'
    const methods = [...new Set(inventory.filter((route) => route.url === path).map((route) => route.method))]
    if (methods.length > 0) {
      const allow = methods.sort().join(', ')
      throw new AppError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; use ${allow}`, { headers: { allow } })
    }
    throw new AppError('ROUTE_NOT_FOUND', `No route ${request.method} ${path}`)
  })
}

export default fp(errorsPlugin, { name: 'errors' })

// GET /healthz (the process is alive) and GET /readyz (the bucket answers).
// Public; but a key sent to /readyz is checked (401 when wrong), so that a
// client such as the Dify tool plugin can validate its credentials there.
import type { FastifyInstance } from 'fastify'
import { AppError, errorBody } from '../errors.js'
import { presentedKey } from '../plugins/auth.js'

const READY_TIMEOUT_MS = 5000

export default async function healthRoutes (app: FastifyInstance): Promise<void> {
  const config = { public: true }
  app.get('/healthz', { config }, async () => ({ status: 'ok' }))
  app.get('/readyz', { config }, async (request, reply) => {
    // with a valid key the answer names the bucket and the cause; without one
    // it says no more than ready or not (it is public)
    let keyed = false
    if (presentedKey(request.headers, request.url, app.config.keySources) !== undefined) {
      const caller = app.authenticate(request.headers, request.url)
      if (caller instanceof AppError) throw caller
      keyed = true
    }
    const unready = async (cause: AppError): Promise<unknown> => {
      const body = { ...errorBody(cause), statusCode: 503, error: 'Service Unavailable' }
      return await reply.code(503).send(keyed ? body : { ...body, message: cause.code === 'SERVICE_OVERLOADED' ? body.message : 'S3 is not ready (send a key to /readyz for the cause)' })
    }
    // from the first moment of a shutdown: load balancers stop routing here
    if (app.draining) return await unready(new AppError('SERVICE_OVERLOADED', 'Shutting down: send requests to another replica'))
    try {
      await app.store.checkBucket(Math.min(READY_TIMEOUT_MS, app.config.s3.timeoutMs))
      return keyed ? { status: 'ready', bucket: app.store.bucket } : { status: 'ready' }
    } catch (err) {
      // not ready, whatever the reason: 503, with the reason's code
      return await unready(err instanceof AppError ? err : new AppError('UPSTREAM_UNAVAILABLE', 'S3 is not reachable', { cause: err }))
    }
  })
}

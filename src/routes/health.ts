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
    if (presentedKey(request.headers) !== undefined) {
      const caller = app.authenticate(request.headers, request.url)
      if (caller instanceof AppError) throw caller
    }
    try {
      await app.store.checkBucket(Math.min(READY_TIMEOUT_MS, app.config.s3.timeoutMs))
      return { status: 'ready', bucket: app.store.bucket }
    } catch (err) {
      const cause = err instanceof AppError ? err : new AppError('UPSTREAM_UNAVAILABLE', 'S3 is not reachable', { cause: err })
      // not ready, whatever the reason: 503, with the reason's code
      return await reply.code(503).send({ ...errorBody(cause), statusCode: 503, error: 'Service Unavailable' })
    }
  })
}

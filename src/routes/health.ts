// GET /healthz (the process is alive) and GET /readyz (the bucket answers). Public.
import type { FastifyInstance } from 'fastify'
import { AppError, errorBody } from '../errors.js'

const READY_TIMEOUT_MS = 5000

export default async function healthRoutes (app: FastifyInstance): Promise<void> {
  const config = { public: true }
  app.get('/healthz', { config }, async () => ({ status: 'ok' }))
  app.get('/readyz', { config }, async (_request, reply) => {
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

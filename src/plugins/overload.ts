// Overload protection: at most MAX_CONCURRENT_TRANSFERS uploads and downloads
// at once. One more is answered 503 SERVICE_OVERLOADED with Retry-After at
// once, before its body is read, instead of every transfer slowing to a crawl
// and memory growing with the queue. Health, docs and presign stay served.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'

const RETRY_AFTER_SECONDS = 5

export function isTransferRoute (route: string | undefined): boolean {
  return route !== undefined && (route.startsWith('/upload/') || route.startsWith('/download/'))
}

async function overloadPlugin (app: FastifyInstance, options: { maxTransfers: number }): Promise<void> {
  let active = 0
  app.addHook('onRequest', async (request, reply) => {
    if (!isTransferRoute(request.routeOptions.url)) return
    if (active >= options.maxTransfers) {
      throw new AppError('SERVICE_OVERLOADED', `The gateway is moving ${active} files already (MAX_CONCURRENT_TRANSFERS); retry in ${RETRY_AFTER_SECONDS} s`,
        { headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } })
    }
    active++
    // 'close' comes exactly once: after the response, or when the client is gone
    reply.raw.once('close', () => { active-- })
  })
}

export default fp(overloadPlugin, { name: 'overload' })

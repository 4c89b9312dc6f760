// Overload protection: at most MAX_CONCURRENT_TRANSFERS uploads and downloads
// at once. One more is answered 503 SERVICE_OVERLOADED with Retry-After at
// once, before its body is read, instead of every transfer slowing to a crawl
// and memory growing with the queue. Health, docs and presign stay served.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'
import type { MemoryPacer } from '../transfer/memory-pacer.js'

const RETRY_AFTER_SECONDS = 5

function isTransferRoute (route: string): boolean {
  return route.startsWith('/upload/') || route.startsWith('/download/')
}

declare module 'fastify' {
  interface FastifyInstance {
    /** transfers under way, by route pattern (the metrics read them) */
    transfersInFlight: () => ReadonlyMap<string, number>
  }
}

async function overloadPlugin (app: FastifyInstance, options: { maxTransfers: number, pacer?: MemoryPacer | undefined }): Promise<void> {
  const byRoute = new Map<string, number>()
  let active = 0
  app.decorate('transfersInFlight', () => byRoute)
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url
    if (route === undefined || !isTransferRoute(route)) return
    if (active >= options.maxTransfers) {
      throw new AppError('SERVICE_OVERLOADED', `The gateway is moving ${active} files already (MAX_CONCURRENT_TRANSFERS); retry in ${RETRY_AFTER_SECONDS} s`,
        { headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } })
    }
    const count = (delta: number): void => {
      active += delta
      byRoute.set(route, (byRoute.get(route) ?? 0) + delta)
    }
    count(1)
    options.pacer?.begin()
    // 'close' comes exactly once: after the response, or when the client is gone
    reply.raw.once('close', () => {
      count(-1)
      options.pacer?.end()
    })
  })
}

export default fp(overloadPlugin, { name: 'overload' })

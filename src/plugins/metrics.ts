// GET /metrics in the Prometheus text format: requests by route and status,
// their latency, bytes in and out on the wire, S3 failures by code, and the
// transfers in flight. One registry per app, so that apps built side by side
// (tests) count apart. Needs an API key like every route outside the public list.
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { MemoryPacer } from '../transfer/memory-pacer.js'
import { asAppError } from './errors.js'

export interface MetricsOptions {
  /** also export the process's own metrics (CPU, RSS, event loop, GC): once per process */
  processMetrics?: boolean
  /** the process's memory pacer, whose scavenges are counted */
  pacer?: MemoryPacer | undefined
}

const PREFIX = 's3_gateway_'

/** the route pattern, never the raw URL: bounded label values */
function routeOf (request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched'
}

/**
 * A counter of counts kept elsewhere (only ever growing), read on scrape:
 * each count by the value of `label`, or, without one, the counter itself.
 */
function mirroredCounter (register: Registry, name: string, help: string, counts: () => Readonly<Record<string, number>>, label?: string): void {
  const reported: Record<string, number> = {}
  new Counter({ // eslint-disable-line no-new -- registered in `register`, read on scrape
    name,
    help,
    labelNames: label !== undefined ? [label] : [],
    registers: [register],
    collect () {
      for (const [value, count] of Object.entries(counts())) {
        const grown = count - (reported[value] ?? 0)
        if (label !== undefined) this.inc({ [label]: value }, grown)
        else this.inc(grown)
        reported[value] = count
      }
    }
  })
}

async function metricsPlugin (app: FastifyInstance, options: MetricsOptions): Promise<void> {
  const register = new Registry()
  if (options.processMetrics === true) collectDefaultMetrics({ register, prefix: PREFIX })

  const requests = new Counter({ name: `${PREFIX}http_requests_total`, help: 'HTTP requests answered, by route, method, status and API key name (none: no key was accepted)', labelNames: ['route', 'method', 'status', 'key'], registers: [register] })
  const duration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time from request to the end of the response, by route, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [register]
  })
  const received = new Counter({ name: `${PREFIX}http_received_bytes_total`, help: 'Bytes received from clients (request line, headers and body), by route', labelNames: ['route'], registers: [register] })
  const sent = new Counter({ name: `${PREFIX}http_sent_bytes_total`, help: 'Bytes sent to clients (status line, headers and body), by route', labelNames: ['route'], registers: [register] })
  const s3Errors = new Counter({ name: `${PREFIX}s3_errors_total`, help: 'Failed S3 calls, by the answer\'s code and the S3 error name', labelNames: ['code', 's3_error'], registers: [register] })
  new Gauge({ // eslint-disable-line no-new -- registered in `register`, read on scrape
    name: `${PREFIX}transfers_in_flight`,
    help: 'Uploads and downloads under way, by route',
    labelNames: ['route'],
    registers: [register],
    // the overload plugin counts them; this only reads
    collect () {
      for (const [route, count] of app.transfersInFlight()) this.set({ route }, count)
    }
  })

  mirroredCounter(register, `${PREFIX}guessed_uploads_total`,
    'Form file parts streamed as one PUT of the length the request\'s Content-Length left for them: right (stored so), wrong (stored again in parts, costing time)',
    () => app.store.guesses, 'guess')

  const { pacer } = options
  if (pacer !== undefined) {
    mirroredCounter(register, `${PREFIX}paced_gc_total`,
      'Young-generation GCs asked for because buffer memory grew while files streamed (0 without node --expose-gc)',
      () => ({ all: pacer.collections }))
    mirroredCounter(register, `${PREFIX}paced_full_gc_total`,
      'Full GCs asked for because the JS heap grew while files streamed (streamed JSON text: base64); 0 without node --expose-gc',
      () => ({ all: pacer.fullCollections }))
  }

  // a socket's byte counters when its previous exchange ended: the parser reads
  // body bytes together with the headers, so the start of a request is too late
  const counted = new WeakMap<Socket, { read: number, written: number }>()

  app.addHook('onResponse', async (request, reply) => {
    const route = routeOf(request)
    const labels = { route, method: request.method, status: String(reply.statusCode) }
    requests.inc({ ...labels, key: request.caller?.name ?? 'none' })
    duration.observe(labels, reply.elapsedTime / 1000)
    const socket = request.raw.socket
    if (socket !== null) {
      const start = counted.get(socket) ?? { read: 0, written: 0 }
      received.inc({ route }, Math.max(0, socket.bytesRead - start.read))
      sent.inc({ route }, Math.max(0, socket.bytesWritten - start.written))
      counted.set(socket, { read: socket.bytesRead, written: socket.bytesWritten })
    }
  })

  app.addHook('onError', async (_request, _reply, error) => {
    const appErr = asAppError(error)
    if (!appErr.code.startsWith('UPSTREAM_')) return
    const cause = appErr.cause as { name?: string, Code?: string } | undefined
    s3Errors.inc({ code: appErr.code, s3_error: cause?.Code ?? cause?.name ?? 'unknown' })
  })

  app.get('/metrics', async (_request, reply) => {
    return await reply.type(register.contentType).send(await register.metrics())
  })
}

export default fp(metricsPlugin, { name: 'metrics' })

// Start the service: validate the configuration, start the embedded
// development S3 when no S3_ENDPOINT is set, listen, and shut down gracefully.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { keepFreedMemory } from './transfer/malloc-keep.js'
import { MemoryPacer } from './transfer/memory-pacer.js'
import { startEmbeddedS3, type EmbeddedS3 } from './s3/embedded.js'
import { bucketCause, listenCause, settingWarnings, startupLine } from './startup.js'

const fail = (line: string): never => {
  console.error(`dify-s3-gateway: ${line}`)
  process.exit(1)
}

async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) console.error(`dify-s3-gateway: invalid configuration: ${problem}`)
      process.exit(1)
    }
    throw err
  }

  let embedded: EmbeddedS3 | undefined
  if (config.s3.endpoint === undefined) {
    try {
      embedded = await startEmbeddedS3({ directory: config.dataDir, buckets: [config.s3.bucket], port: config.embeddedS3Port })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') fail(`port ${config.embeddedS3Port} of the embedded development S3 is in use (EADDRINUSE): set EMBEDDED_S3_PORT to a free port (0: any), or S3_ENDPOINT to a real S3`)
      throw err
    }
    config.s3 = { ...config.s3, endpoint: embedded.endpoint, accessKeyId: embedded.accessKeyId, secretAccessKey: embedded.secretAccessKey }
  }

  // Node 20 is past its end of life: say so in one line (below) instead of the
  // AWS SDK's eight
  const oldNode = Number(process.versions.node.split('.')[0]) < 22
  if (oldNode) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const pacer = new MemoryPacer()
  const app = await buildApp(config, { processMetrics: true, pacer })
  if (oldNode) app.log.warn(`Node ${process.versions.node} is past its end of life and not supported: use Node 22 or 24`)
  if (!pacer.enabled) app.log.warn('node runs without --expose-gc: buffer memory is not paced while files stream (npm start and the image pass it)')
  if (embedded !== undefined) {
    app.log.warn(`DEVELOPMENT STORAGE: no S3_ENDPOINT set, so an embedded S3 (s3rver) serves bucket "${config.s3.bucket}" at ${embedded.endpoint} with its data in ${config.dataDir}. ` +
      'For real storage set S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and BUCKET_NAME (NODE_ENV=production refuses to start without them).')
    app.addHook('onClose', async () => { await embedded?.close() })
  }
  for (const warning of settingWarnings(config)) app.log.warn(warning)

  // SIGTERM/SIGINT: stop accepting, let transfers finish for SHUTDOWN_TIMEOUT_MS,
  // then cut what still runs (its upload is aborted: nothing half-written) and
  // exit 0. close-with-grace's own deadline is only the last resort.
  // with API_KEYS_FILE, SIGHUP re-reads the keys (below) instead of shutting down
  const skip: Array<'SIGHUP'> = config.apiKeysFile !== undefined ? ['SIGHUP'] : []
  closeWithGrace({ delay: config.shutdownTimeoutMs + config.s3.timeoutMs + 10_000, skip }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: no new requests, waiting for transfers')
    const cut = setTimeout(() => {
      app.log.warn('shutdown timeout: closing the connections still open, their transfers are aborted')
      app.server.closeAllConnections()
    }, config.shutdownTimeoutMs)
    await app.close()
    clearTimeout(cut)
  })

  // SIGHUP: re-read API_KEYS_FILE; a broken file keeps the keys in force
  if (config.apiKeysFile !== undefined) {
    process.on('SIGHUP', () => {
      try {
        const count = app.keyRing.reload()
        app.log.info({ keys: count, names: app.keyRing.keys.map((k) => k.name) }, 'SIGHUP: API_KEYS_FILE re-read')
      } catch (err) {
        app.log.error({ reason: (err as Error).message, keys: app.keyRing.size }, 'SIGHUP: API_KEYS_FILE not re-read, the previous keys stay in force')
      }
    })
  }

  let listening: string
  try {
    listening = await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    const cause = listenCause(err, config)
    if (cause === undefined) throw err
    await app.close().catch(() => {})
    return fail(cause)
  }
  app.log.info(startupLine(config, listening, embedded !== undefined))
  // after the start's own garbage went back to the kernel: what is freed from now on is kept for reuse
  keepFreedMemory(config.mallocKeepBytes)
  app.store.checkBucket().then(
    () => { app.log.info({ bucket: config.s3.bucket }, 'S3 bucket reachable') },
    (err: unknown) => { app.log.warn(`${bucketCause(err, config)} (/readyz answers 503 until it is fixed)`) }
  )
}

await main()

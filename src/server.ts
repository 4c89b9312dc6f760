// Start the service: validate the configuration, start the embedded
// development S3 when no S3_ENDPOINT is set, listen, and shut down gracefully.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { MemoryPacer } from './transfer/memory-pacer.js'
import { startEmbeddedS3, type EmbeddedS3 } from './s3/embedded.js'

async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`dify-s3-gateway: invalid configuration: ${err.message}`)
      process.exit(1)
    }
    throw err
  }

  let embedded: EmbeddedS3 | undefined
  if (config.s3.endpoint === undefined) {
    embedded = await startEmbeddedS3({ directory: config.dataDir, buckets: [config.s3.bucket] })
    config.s3 = { ...config.s3, endpoint: embedded.endpoint, accessKeyId: embedded.accessKeyId, secretAccessKey: embedded.secretAccessKey }
  }

  const pacer = new MemoryPacer()
  const app = await buildApp(config, { processMetrics: true, pacer })
  if (!pacer.enabled) app.log.warn('node runs without --expose-gc: buffer memory is not paced while files stream (npm start and the image pass it)')
  if (embedded !== undefined) {
    app.log.warn(`DEVELOPMENT STORAGE: no S3_ENDPOINT set, so an embedded S3 (s3rver) serves bucket "${config.s3.bucket}" at ${embedded.endpoint} with its data in ${config.dataDir}. ` +
      'For real storage set S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and BUCKET_NAME (NODE_ENV=production refuses to start without them).')
    app.addHook('onClose', async () => { await embedded?.close() })
  }

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

  await app.listen({ host: config.host, port: config.port })
  app.store.checkBucket().then(
    () => { app.log.info({ bucket: config.s3.bucket }, 'S3 bucket reachable') },
    (err: Error) => { app.log.warn({ bucket: config.s3.bucket, reason: err.message }, 'S3 bucket not reachable yet: /readyz answers 503 until it is') }
  )
}

await main()

// The embedded development S3 (s3rver, a devDependency): started when no
// S3_ENDPOINT is configured outside production. Never used in production.
import { mkdirSync } from 'node:fs'

export interface EmbeddedS3 {
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  close: () => Promise<void>
}

export interface EmbeddedS3Options {
  directory: string
  buckets: string[]
  host?: string
  port?: number
  /** wipe the directory on close (tests) */
  resetOnClose?: boolean
}

export async function startEmbeddedS3 (options: EmbeddedS3Options): Promise<EmbeddedS3> {
  let S3rver: typeof import('s3rver').default
  try {
    S3rver = (await import('s3rver')).default
  } catch (err) {
    throw new Error('The embedded development S3 needs the s3rver devDependency (run `npm ci`), or set S3_ENDPOINT to use a real S3 server', { cause: err })
  }
  mkdirSync(options.directory, { recursive: true })
  const server = new S3rver({
    address: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    resetOnClose: options.resetOnClose ?? false,
    configureBuckets: options.buckets.map((name) => ({ name }))
  })
  const { address, port } = await server.run()
  const host = address.includes(':') ? `[${address}]` : address
  return {
    endpoint: `http://${host}:${port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    close: async () => { await server.close() }
  }
}

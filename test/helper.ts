// Test harness: a real S3 server per test file (embedded s3rver, or the one
// named by S3_TEST_ENDPOINT), the gateway listening on loopback, and a direct
// S3 client to check what really is in the bucket.
import { randomBytes, createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable, type Readable } from 'node:stream'
import { chromium, type Browser } from 'playwright-core'
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client
} from '@aws-sdk/client-s3'
import { after, before } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppDeps } from '../src/app.js'
import { loadConfig, SETTINGS, type Config } from '../src/config.js'
import { startEmbeddedS3 } from '../src/s3/embedded.js'

/** where browser tests keep their screenshots (not tracked) */
export const ARTIFACTS = join(import.meta.dirname, 'artifacts')

/** Debian's Chromium, which the browser tests drive (CI installs it) */
export const CHROMIUM = '/usr/bin/chromium'

/** Headless Chromium as this machine allows it: no sandbox as root, no background traffic */
export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
  })
}

/** A log stream for buildApp whose lines a test can search (for keys that must never appear, say) */
export function logCapture (): { lines: string[], stream: Writable } {
  const lines: string[] = []
  return { lines, stream: new Writable({ write (chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done() } }) }
}

export interface TestS3 {
  kind: 's3rver' | 'external'
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  bucket: string
  client: S3Client
  close: () => Promise<void>
}

const EXTERNAL_S3 = process.env.S3_TEST_ENDPOINT !== undefined && process.env.S3_TEST_ENDPOINT !== ''

/**
 * For a test of what s3rver cannot do (S3-SERVERS.md): on s3rver it skips with
 * this reason, printed; against any other server (Ceph in CI) it runs.
 */
export function unlessS3rver (what: string): string | false {
  return EXTERNAL_S3 ? false : `s3rver cannot ${what} (S3-SERVERS.md); this test runs against Ceph in CI`
}

function directClient (endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: process.env.S3_TEST_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
}

export async function startTestS3 (): Promise<TestS3> {
  const external = process.env.S3_TEST_ENDPOINT
  if (EXTERNAL_S3 && external !== undefined) {
    const accessKeyId = process.env.S3_TEST_ACCESS_KEY ?? ''
    const secretAccessKey = process.env.S3_TEST_SECRET_KEY ?? ''
    const client = directClient(external, accessKeyId, secretAccessKey)
    const given = process.env.S3_TEST_BUCKET
    const bucket = given !== undefined && given !== '' ? given : `gw-test-${randomBytes(6).toString('hex')}`
    await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: Error) => {
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes(err.name)) throw err
    })
    return {
      kind: 'external',
      endpoint: external,
      accessKeyId,
      secretAccessKey,
      bucket,
      client,
      close: async () => {
        await emptyBucket(client, bucket)
        if (given === undefined || given === '') await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {})
        client.destroy()
      }
    }
  }
  const bucket = 'test-bucket'
  const server = await startEmbeddedS3({ directory: mkdtempSync(join(tmpdir(), 'gw-s3rver-')), buckets: [bucket], resetOnClose: true })
  const client = directClient(server.endpoint, server.accessKeyId, server.secretAccessKey)
  return {
    kind: 's3rver',
    ...server,
    bucket,
    client,
    close: async () => {
      client.destroy()
      await server.close()
    }
  }
}

async function emptyBucket (client: S3Client, bucket: string): Promise<void> {
  for (const upload of await unfinishedUploads(client, bucket, '')) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId })).catch(() => {})
  }
  for (let round = 0; round < 1000; round++) {
    const list = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
    const keys = (list.Contents ?? []).map((o) => ({ Key: o.Key ?? '' }))
    if (keys.length === 0) return
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }))
  }
}

async function unfinishedUploads (client: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string, uploadId: string }>> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))
  return (out.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '' }))
}

export function testConfig (s3: TestS3, env: Record<string, string> = {}): Config {
  return loadConfig({
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY: s3.accessKeyId,
    S3_SECRET_KEY: s3.secretAccessKey,
    BUCKET_NAME: s3.bucket,
    S3_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'silent',
    // a test's fetch keeps its connection: close() need not wait for a quiet drain (rolling-restart.test.ts does)
    SHUTDOWN_IDLE_MS: '0',
    ...env
  })
}

export interface Gateway {
  url: string
  app: FastifyInstance
  config: Config
  close: () => Promise<void>
}

export async function startGateway (s3: TestS3, env: Record<string, string> = {}, deps: AppDeps = {}): Promise<Gateway> {
  const config = testConfig(s3, env)
  const app = await buildApp(config, { logger: false, ...deps })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return { url: `http://127.0.0.1:${address.port}`, app, config, close: async () => { await app.close() } }
}

export interface GatewaySuite {
  s3: TestS3
  gw: Gateway
}

/**
 * Inside a describe(): start a test S3 and a gateway before its tests, close
 * both after. The fields are set once `before` has run.
 */
export function gatewaySuite (env: Record<string, string> = {}): GatewaySuite {
  const suite = {} as GatewaySuite
  before(async () => {
    suite.s3 = await startTestS3()
    suite.gw = await startGateway(suite.s3, env)
  })
  after(async () => {
    await suite.gw?.close()
    await suite.s3?.close()
  })
  return suite
}

export interface JsonAnswer {
  status: number
  headers: Headers
  body: Record<string, unknown>
}

/** fetch, and read the answer as a JSON object */
export async function fetchJson (url: string, init: RequestInit = {}): Promise<JsonAnswer> {
  const res = await fetch(url, init)
  return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
}

/** POST a JSON body (a string is sent as it is) */
export async function postJson (url: string, body: unknown): Promise<JsonAnswer> {
  return await fetchJson(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
}

/** this process's environment without any setting of the service: a child started with it runs as on a fresh machine */
export function settingsFreeEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !SETTINGS.includes(name)))
}

/** a loopback port with nothing listening on it (a closed port, or one to give a child process) */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * A loopback port that refuses connections, and stays refusing: a port below 1024 that nothing
 * listens on. A port from freePort() can be handed out again by the next listen(0), even to the
 * gateway under test, which then answers its own S3 requests.
 */
export async function refusedPort (): Promise<number> {
  for (const port of [1, 9, 13, 17, 19, 37]) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(false) })
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
    })
    if (refused) return port
  }
  throw new Error('no low loopback port refuses connections on this machine')
}

/** A key no other test uses. */
export function uniqueKey (name: string): string {
  return `t-${randomBytes(5).toString('hex')}/${name}`
}

export function sha256 (data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Poll until `check` is true; fail after `timeoutMs`. */
export async function eventually (what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
}

export async function objectBody (s3: TestS3, key: string): Promise<Buffer | undefined> {
  try {
    const out = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))
    return Buffer.from(await out.Body!.transformToByteArray())
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined
    throw err
  }
}

export async function objectHead (s3: TestS3, key: string): Promise<{ contentType: string | undefined, size: number | undefined, etag: string | undefined } | undefined> {
  try {
    const out = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))
    return { contentType: out.ContentType, size: out.ContentLength, etag: out.ETag }
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined
    throw err
  }
}

export async function putObject (s3: TestS3, key: string, body: Buffer | string | Readable, contentType = 'application/octet-stream', contentLength?: number): Promise<void> {
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: contentLength }))
}

/** Wait until no multipart upload under `key` is left unfinished (the SDK aborts them after in-flight parts settle). */
export async function noUnfinishedUploads (s3: TestS3, key: string): Promise<void> {
  await eventually(`no unfinished multipart upload at ${key}`, async () => (await unfinishedUploads(s3.client, s3.bucket, key)).length === 0)
}

export async function countUnfinishedUploads (s3: TestS3, key: string): Promise<number> {
  return (await unfinishedUploads(s3.client, s3.bucket, key)).length
}

export function authHeaders (key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` }
}

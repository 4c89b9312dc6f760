// Three gateway processes behind nginx (Debian's package, run with the very
// server block users deploy: deploy/nginx/dify-s3-gateway.conf) over one S3,
// under a mixed load — uploads with a length, chunked and form-data, checked
// downloads, and presigned multipart uploads whose calls land on any replica —
// while one replica is SIGKILLed and another SIGTERMed and restarted (a
// rolling restart). Then, object by object:
// - every upload the client saw succeed is stored, byte for byte (SHA-256);
// - every upload answered with an error left nothing;
// - an upload whose connection was cut (nginx's 502 included: the killed
//   replica may have stored it before dying) left nothing or the whole object,
//   never part of one; unfinished multipart uploads belong only to cut ones
//   (a killed process cannot abort), and are aborted as a lifecycle rule would;
// - no 5xx but nginx's 502 for requests cut by the killed replica;
// - the SIGTERMed replica finished what it had (nothing fails around it).
// The figures are printed. Runs where nginx is installed (CI apt-gets it).
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { PLUGIN_ROOT } from '../src/dify/endpoints.js'
import { eventually, freePort, objectBody, settingsFreeEnv, sha256, startTestS3, uniqueKey, type TestS3 } from './helper.js'

const NGINX = '/usr/sbin/nginx'
const KEY = 'replica-test-key-0123456789abcdef'
const MiB = 1024 * 1024
const SERVER = ['--import', 'tsx', 'src/server.ts']

/** whether a server answers /healthz (a refused connection is a no) */
const answers = async (url: string): Promise<boolean> => await fetch(`${url}/healthz`).then((r) => r.ok, () => false)

interface Replica { port: number, child: ChildProcess | undefined, output: string }

function startReplica (replica: Replica, s3: TestS3): void {
  const env = settingsFreeEnv()
  const child = spawn(process.execPath, SERVER, {
    cwd: PLUGIN_ROOT,
    env: {
      ...env,
      PORT: String(replica.port),
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY: s3.accessKeyId,
      S3_SECRET_KEY: s3.secretAccessKey,
      BUCKET_NAME: s3.bucket,
      API_KEYS: KEY,
      SHUTDOWN_TIMEOUT_MS: '20000',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout?.on('data', (c: Buffer) => { replica.output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { replica.output += c.toString() })
  replica.child = child
}

/** deploy/nginx/dify-s3-gateway.conf with the replicas as its upstream servers, in a config of its own */
function nginxConfig (dir: string, port: number, replicas: Replica[]): string {
  const block = readFileSync(join(PLUGIN_ROOT, 'deploy', 'nginx', 'dify-s3-gateway.conf'), 'utf8')
  const servers = block.replace(/^\s*server dify-s3-gateway:3000([^;]*);$/m, (_line, options: string) => replicas.map((r) => `    server 127.0.0.1:${r.port}${options};`).join('\n'))
  assert.notEqual(servers, block, 'the upstream line was found')
  const listening = servers.replace(/listen 3000;/, `listen 127.0.0.1:${port};`)
  assert.notEqual(listening, servers, 'the listen line was found')
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { recursive: true })
  return [
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 2;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((sub) => `  ${sub === 'body' ? 'client_body' : sub}_temp_path ${join(dir, sub)};`),
    listening,
    '}'
  ].join('\n')
}

type Kind = 'raw' | 'chunked' | 'form' | 'multipart' | 'download'
type Outcome = 'ok' | 'answered-error' | 'cut'
interface Op { kind: Kind, key: string, sha: string, bytes: number, outcome: Outcome, status: number, code: string, started: number, ended: number, nginx502: boolean }

describe('replicas behind nginx: a kill and a rolling restart under load', { skip: existsSync(NGINX) ? false : `${NGINX} is not installed (apt-get install nginx-light)`, timeout: 240_000 }, () => {
  it('keeps every answered upload intact and leaves nothing for failed ones', async () => {
    const s3 = await startTestS3()
    const dir = mkdtempSync(join(tmpdir(), 'gw-replicas-'))
    const replicas: Replica[] = []
    for (let i = 0; i < 3; i++) replicas.push({ port: await freePort(), child: undefined, output: '' })
    const proxyPort = await freePort()
    let nginx: ChildProcess | undefined
    try {
      for (const r of replicas) startReplica(r, s3)
      for (const r of replicas) await eventually(`replica :${r.port}`, async () => await answers(`http://127.0.0.1:${r.port}`), 30_000)
      writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, proxyPort, replicas))
      nginx = spawn(NGINX, ['-c', join(dir, 'nginx.conf'), '-p', dir, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let nginxOutput = ''
      nginx.stderr?.on('data', (c: Buffer) => { nginxOutput += c.toString() })
      const GW = `http://127.0.0.1:${proxyPort}`
      await eventually(`nginx on :${proxyPort}`, async () => await answers(GW), 30_000).catch((err: Error) => { throw new Error(`${err.message}\n${nginxOutput}`) })

      const auth = { authorization: `Bearer ${KEY}` }
      const ops: Op[] = []
      const stored: Array<{ key: string, sha: string }> = []
      const t0 = Date.now()
      // nginx's own 502 (not the gateway's JSON) is a connection cut by the
      // killed replica: as for a cut, the client cannot know what was stored
      const record = (op: Omit<Op, 'ended'>): Op => {
        const done: Op = { ...op, ...(op.nginx502 ? { outcome: 'cut' as const } : {}), ended: Date.now() - t0 }
        ops.push(done)
        return done
      }

      /** one upload through the proxy; the answer decides the outcome */
      async function upload (kind: 'raw' | 'chunked' | 'form', n: number): Promise<void> {
        const size = kind === 'chunked' ? (1 + (n % 7)) * MiB + 17 : kind === 'raw' ? (256 + (n % 16) * 256) * 1024 : MiB + n
        const data = randomBytes(size)
        const key = `replicas/${kind}-${n}-${uniqueKey('x')}`
        const started = Date.now() - t0
        const base = { kind, key, sha: sha256(data), bytes: size, started, nginx502: false }
        try {
          let res: Response
          if (kind === 'form') {
            const form = new FormData()
            form.append('s3_key', key)
            form.append('file', new Blob([data]), 'upload.bin')
            res = await fetch(`${GW}/upload/file`, { method: 'POST', headers: auth, body: form })
          } else if (kind === 'raw') {
            res = await fetch(`${GW}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: data })
          } else {
            const stream = new ReadableStream<Uint8Array>({
              start (controller) {
                for (let at = 0; at < data.length; at += 256 * 1024) controller.enqueue(data.subarray(at, at + 256 * 1024))
                controller.close()
              }
            })
            res = await fetch(`${GW}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: stream, duplex: 'half' } as RequestInit)
          }
          const text = await res.text()
          const json = text.startsWith('{') ? JSON.parse(text) as { sha256?: string, code?: string } : undefined
          if (res.status === 201 && json?.sha256 === base.sha) {
            record({ ...base, outcome: 'ok', status: 201, code: '' })
            stored.push({ key, sha: base.sha })
          } else {
            record({ ...base, outcome: 'answered-error', status: res.status, code: json?.code ?? text.slice(0, 60), nginx502: res.status === 502 && json === undefined })
          }
        } catch (err) {
          record({ ...base, outcome: 'cut', status: 0, code: (err as Error).message })
        }
      }

      /** presigned multipart as Uppy drives it: each call through the proxy, so any replica signs; the bytes go to S3 */
      async function multipart (n: number): Promise<void> {
        const data = randomBytes(11 * MiB + n)
        const key = `replicas/multipart-${n}-${uniqueKey('x')}`
        const started = Date.now() - t0
        const base = { kind: 'multipart' as const, key, sha: sha256(data), bytes: data.length, started, nginx502: false }
        const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: Record<string, any> | undefined }> => {
          const res = await fetch(`${GW}${path}`, { method, headers: { ...auth, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
          const text = await res.text()
          return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) as Record<string, any> : undefined }
        }
        let uploadId: string | undefined
        try {
          const created = await call('POST', '/s3/multipart', { filename: 'part.bin', type: 'application/octet-stream', metadata: { s3_key: key } })
          if (created.status !== 200) {
            record({ ...base, outcome: 'answered-error', status: created.status, code: String(created.json?.code ?? ''), nginx502: created.status === 502 && created.json === undefined })
            return
          }
          uploadId = String(created.json?.uploadId)
          const q = `?key=${encodeURIComponent(key)}`
          const parts: Array<{ PartNumber: number, ETag: string }> = []
          for (let i = 0; i * 5 * MiB < data.length; i++) {
            const signed = await call('GET', `/s3/multipart/${encodeURIComponent(uploadId)}/${i + 1}${q}`)
            if (signed.status !== 200) throw Object.assign(new Error('sign'), { answered: signed })
            const put = await fetch(String(signed.json?.url), { method: 'PUT', body: data.subarray(i * 5 * MiB, (i + 1) * 5 * MiB) })
            await put.arrayBuffer()
            assert.equal(put.status, 200)
            parts.push({ PartNumber: i + 1, ETag: put.headers.get('etag') ?? '' })
          }
          const done = await call('POST', `/s3/multipart/${encodeURIComponent(uploadId)}/complete${q}`, { parts })
          if (done.status !== 200) throw Object.assign(new Error('complete'), { answered: done })
          record({ ...base, outcome: 'ok', status: 200, code: '' })
          stored.push({ key, sha: base.sha })
        } catch (err) {
          const answered = (err as { answered?: { status: number, json?: Record<string, any> } }).answered
          // a client gives up as Uppy does: it aborts the upload (best effort)
          if (uploadId !== undefined) await call('DELETE', `/s3/multipart/${encodeURIComponent(uploadId)}?key=${encodeURIComponent(key)}`).catch(() => {})
          if (answered !== undefined) record({ ...base, outcome: 'answered-error', status: answered.status, code: String(answered.json?.code ?? ''), nginx502: answered.status === 502 && answered.json === undefined })
          else record({ ...base, outcome: 'cut', status: 0, code: (err as Error).message })
        }
      }

      /** a download of an object stored earlier, compared byte for byte */
      async function download (n: number): Promise<void> {
        const pick = stored[n % Math.max(1, stored.length)]
        if (pick === undefined) return
        const started = Date.now() - t0
        const base = { kind: 'download' as const, key: pick.key, sha: pick.sha, bytes: 0, started, nginx502: false }
        try {
          const res = await fetch(`${GW}/download/file?s3_key=${encodeURIComponent(pick.key)}`, { headers: auth })
          const body = Buffer.from(await res.arrayBuffer())
          if (res.status === 200 && sha256(body) === pick.sha) record({ ...base, bytes: body.length, outcome: 'ok', status: 200, code: '' })
          else record({ ...base, outcome: 'answered-error', status: res.status, code: body.toString().slice(0, 60), nginx502: res.status === 502 && !body.toString().startsWith('{') })
        } catch (err) {
          record({ ...base, outcome: 'cut', status: 0, code: (err as Error).message })
        }
      }

      // the load: 6 clients, each a mix of the five kinds, until the schedule ends
      const load = { stop: false }
      let counter = 0
      const kinds: Array<(n: number) => Promise<void>> = [async (n) => await upload('raw', n), async (n) => await upload('chunked', n), async (n) => await upload('form', n), download, multipart, download]
      const clients = Array.from({ length: 6 }, async (_x, c) => {
        while (!load.stop) {
          const n = counter++
          await (kinds[(n + c) % kinds.length] as (n: number) => Promise<void>)(n)
        }
      })

      // the schedule: a SIGKILL, then a rolling restart of another replica
      const [killed, rolled] = [replicas[0] as Replica, replicas[1] as Replica]
      await new Promise((resolve) => setTimeout(resolve, 4000))
      const killedAt = Date.now() - t0
      killed.child?.kill('SIGKILL')
      await new Promise((resolve) => setTimeout(resolve, 3000))
      const termAt = Date.now() - t0
      const exited = new Promise<number | null>((resolve) => rolled.child?.once('exit', resolve))
      rolled.child?.kill('SIGTERM')
      assert.equal(await exited, 0, `the SIGTERMed replica exits 0 once its transfers are done:\n${rolled.output}`)
      const termExitAt = Date.now() - t0
      rolled.output = ''
      startReplica(rolled, s3)
      await eventually('the restarted replica', async () => await answers(`http://127.0.0.1:${rolled.port}`), 30_000)
      await new Promise((resolve) => setTimeout(resolve, 4000))
      load.stop = true
      await Promise.all(clients)
      const endAt = Date.now() - t0

      // the figures
      const count = (f: (o: Op) => boolean): number => ops.filter(f).length
      const byKind = Object.fromEntries((['raw', 'chunked', 'form', 'multipart', 'download'] as const).map((k) => [k, `${count((o) => o.kind === k && o.outcome === 'ok')} ok / ${count((o) => o.kind === k && o.outcome === 'answered-error')} error / ${count((o) => o.kind === k && o.outcome === 'cut')} cut`]))
      const up = ops.filter((o) => o.kind !== 'download' && o.outcome === 'ok').reduce((s, o) => s + o.bytes, 0)
      const down = ops.filter((o) => o.kind === 'download' && o.outcome === 'ok').reduce((s, o) => s + o.bytes, 0)
      const failures = ops.filter((o) => o.outcome !== 'ok')
      console.log(`replica test: ${ops.length} requests in ${(endAt / 1000).toFixed(1)} s; SIGKILL at ${killedAt} ms, SIGTERM at ${termAt} ms (exited at ${termExitAt} ms, restarted); ` +
        `${(up / MiB).toFixed(0)} MiB stored, ${(down / MiB).toFixed(0)} MiB downloaded and checked`)
      console.log(`replica test by kind: ${JSON.stringify(byKind)}`)
      console.log(`replica test failures: ${JSON.stringify(failures.map((o) => ({ kind: o.kind, outcome: o.outcome, status: o.status, code: o.code.slice(0, 60), started: o.started, ended: o.ended })))}`)

      // no 5xx but the killed replica's cut requests (nginx's own 502, at the kill)
      const nearKill = (o: Op): boolean => o.started <= killedAt + 200 && o.ended >= killedAt - 200 && o.ended <= killedAt + 5000
      for (const o of failures) {
        assert.ok(nearKill(o) && (o.outcome === 'cut' || o.nginx502), `a failure that the kill does not explain (the SIGTERMed replica must finish its transfers): ${JSON.stringify(o)}\n${rolled.output}`)
      }
      assert.ok(count((o) => o.outcome === 'ok' && o.kind !== 'download') >= 20, 'a real load: at least 20 uploads stored')
      assert.ok(count((o) => o.kind === 'multipart' && o.outcome === 'ok') >= 2, 'presigned multipart across replicas')

      // the bucket, object by object
      const listed = new Map<string, number>()
      let token: string | undefined
      for (let page = 0; page < 100; page++) {
        const out = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'replicas/', ContinuationToken: token }))
        for (const o of out.Contents ?? []) listed.set(o.Key ?? '', o.Size ?? 0)
        token = out.NextContinuationToken
        if (token === undefined) break
      }
      const uploads = ops.filter((o) => o.kind !== 'download')
      for (const o of uploads) {
        const body = listed.has(o.key) ? await objectBody(s3, o.key) : undefined
        if (o.outcome === 'ok') assert.equal(body !== undefined ? sha256(body) : 'missing', o.sha, `stored intact: ${o.key}`)
        else if (o.outcome === 'answered-error') assert.equal(body, undefined, `an answered failure left nothing: ${o.key}`)
        else assert.ok(body === undefined || sha256(body) === o.sha, `a cut upload left nothing or the whole object, never a part: ${o.key}`)
      }
      const issued = new Set(uploads.map((o) => o.key))
      for (const key of listed.keys()) assert.ok(issued.has(key), `an object nobody uploaded: ${key}`)

      // unfinished multipart uploads: only a cut one's (the killed process could not abort); the lifecycle rule's work
      const unfinished = (await s3.client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'replicas/' }))).Uploads ?? []
      const cutKeys = new Set(uploads.filter((o) => o.outcome === 'cut').map((o) => o.key))
      for (const u of unfinished) {
        assert.ok(cutKeys.has(u.Key ?? ''), `an unfinished multipart upload of an upload that was not cut: ${u.Key ?? ''}`)
        await s3.client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: u.Key, UploadId: u.UploadId }))
      }
      console.log(`replica test: ${listed.size} objects checked, ${unfinished.length} unfinished multipart uploads of cut requests aborted (lifecycle)`)
      assert.equal(((await s3.client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'replicas/' }))).Uploads ?? []).length, 0)
    } finally {
      nginx?.kill('SIGTERM')
      for (const r of replicas) r.child?.kill('SIGKILL')
      await s3.close()
    }
  })
})

// The process as `npm start` runs it: with no configuration it starts the
// embedded development S3 and says so; bad configuration stops it with one
// line; it starts while S3 is down; SIGTERM shuts it down cleanly.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http from 'node:http'
import { describe, it } from 'node:test'
import { send } from './http.js'
import { countUnfinishedUploads, eventually, freePort, settingsFreeEnv, noUnfinishedUploads, objectBody, putObject, sha256, startTestS3, uniqueKey, type TestS3 } from './helper.js'

const SERVER = ['--import', 'tsx', 'src/server.ts']

/** the environment without anything of ours, as on a fresh machine */
function cleanEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  // the embedded S3's fixed port (4568) would collide with a developer's npm start
  return { ...settingsFreeEnv(), EMBEDDED_S3_PORT: '0', ...extra }
}

interface Running { child: ChildProcess, output: () => string, url: string }

/** the node flags of package.json's start script (npm start and the image run with them) */
function startFlags (): string[] {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }
  return pkg.scripts.start.split(/\s+/).filter((arg) => arg.startsWith('--'))
}

async function start (env: Record<string, string>, nodeFlags: string[] = []): Promise<Running> {
  const child = spawn(process.execPath, [...nodeFlags, ...SERVER], { env: cleanEnv({ PORT: '0', ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line within 20 s:\n${output}`)) }, 20_000)
    const look = (): void => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match?.[1] !== undefined) { clearTimeout(timer); resolve(match[1]) }
    }
    child.stdout?.on('data', look)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${String(code)}:\n${output}`)) })
  })
  return { child, output: () => output, url }
}

async function stop (running: Running): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => running.child.once('exit', (code) => { resolve(code) }))
  running.child.kill('SIGTERM')
  return await exited
}

async function refusal (env: Record<string, string>): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, SERVER, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stderr }
}

/** wait for `text` in the process's output */
async function logged (running: Running, text: string): Promise<void> {
  await eventually(`${text} in the output`, async () => running.output().includes(text), 5000)
}

/** the stderr lines that are ours (Node may print its own warnings) */
const ownLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('dify-s3-gateway:'))

describe('the server process', { timeout: 120_000 }, () => {
  it('with no configuration, starts the embedded development S3, says so, serves uploads, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-dev-'))
    const running = await start({ DATA_DIR: dataDir })
    try {
      assert.match(running.output(), /DEVELOPMENT STORAGE/)
      assert.match(running.output(), /S3_ENDPOINT/)
      assert.ok(running.output().includes(dataDir))
      assert.equal((await fetch(`${running.url}/readyz`)).status, 200)
      const up = await fetch(`${running.url}/upload/file?s3_key=hello.txt`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } })
      assert.equal(up.status, 201)
      const down = await fetch(`${running.url}/download/file?s3_key=hello.txt`)
      assert.equal(await down.text(), 'hello')
      // development logs are for people: pino-pretty lines, not JSON
      const id = down.headers.get('x-request-id') ?? ''
      await logged(running, id)
      assert.ok(!/^\{"level"/m.test(running.output()), running.output())
      assert.match(running.output(), /INFO.*Server listening/)
      assert.match(running.output(), new RegExp(`reqId: "${id}"`))
    } finally {
      assert.equal(await stop(running), 0)
    }
  })

  it('keeps development data across restarts (DATA_DIR)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-dev-'))
    let running = await start({ DATA_DIR: dataDir })
    await fetch(`${running.url}/upload/file?s3_key=kept.txt`, { method: 'POST', body: 'kept', headers: { 'content-type': 'text/plain' } })
    assert.equal(await stop(running), 0)
    running = await start({ DATA_DIR: dataDir })
    try {
      assert.equal(await (await fetch(`${running.url}/download/file?s3_key=kept.txt`)).text(), 'kept')
    } finally {
      await stop(running)
    }
  })

  it('says in one line where it listens, which S3 and bucket, and whether keys are required', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-dev-'))
    let running = await start({ DATA_DIR: dataDir })
    try {
      assert.match(running.output(), /dify-s3-gateway listening on http:\/\/127\.0\.0\.1:\d+ · S3 http:\/\/127\.0\.0\.1:\d+ \(embedded development S3\), bucket "dify" · auth: OFF — loopback only/)
    } finally {
      assert.equal(await stop(running), 0)
    }
    running = await start({ DATA_DIR: dataDir, API_KEYS: 'first-key-0123456789,second-key-0123456789' })
    try {
      assert.match(running.output(), /bucket "dify" · auth: on, 2 keys/)
      assert.ok(!running.output().includes('first-key-0123456789'), 'no key in the output')
      // no Node warning of eight lines from the AWS SDK: one of ours on Node 20, none on 22+
      assert.ok(!running.output().includes('NodeVersionSupportWarning'), running.output())
      assert.equal(/past its end of life/.test(running.output()), Number(process.versions.node.split('.')[0]) < 22)
    } finally {
      assert.equal(await stop(running), 0)
    }
  })

  it('listening beyond loopback without PUBLIC_URL, warns and serves /openapi.json for the host it was asked at', async () => {
    const running = await start({ DATA_DIR: mkdtempSync(join(tmpdir(), 'gw-dev-')), HOST: '0.0.0.0', API_KEYS: 'first-key-0123456789' })
    try {
      assert.match(running.output(), /PUBLIC_URL is unset while listening on 0\.0\.0\.0/)
      const port = new URL(running.url.replace('0.0.0.0', '127.0.0.1')).port
      const answer = await send(`http://127.0.0.1:${port}/openapi.json`, { method: 'GET', headers: { host: `dify-s3-gateway:${port}` } })
      assert.equal(answer.status, 200)
      assert.deepEqual((JSON.parse(answer.body.toString()) as { servers: unknown }).servers, [{ url: `http://dify-s3-gateway:${port}` }])
      const hostile = await send(`http://127.0.0.1:${port}/openapi.json`, { method: 'GET', headers: { host: 'evil"><script>' } })
      assert.doesNotMatch(hostile.body.toString(), /evil/)
    } finally {
      assert.equal(await stop(running), 0)
    }
    const set = await start({ DATA_DIR: mkdtempSync(join(tmpdir(), 'gw-dev-')), HOST: '0.0.0.0', API_KEYS: 'first-key-0123456789', PUBLIC_URL: 'http://127.0.0.1:3000' })
    try {
      assert.match(set.output(), /PUBLIC_URL is http:\/\/127\.0\.0\.1:3000, a loopback address/)
    } finally {
      assert.equal(await stop(set), 0)
    }
  })

  it('lists every configuration problem at once, one line each', async () => {
    const { code, stderr } = await refusal({ PORT: 'eighty', LOG_LEVEL: 'loud', S3_ENDPOINT: 'http://127.0.0.1:1', BUCKET_NAME: 'No_Such Bucket', PUBLIC_URL: 'ftp://x' })
    assert.equal(code, 1)
    const lines = ownLines(stderr)
    for (const name of ['PORT', 'LOG_LEVEL', 'BUCKET_NAME', 'S3_ACCESS_KEY and S3_SECRET_KEY', 'PUBLIC_URL']) {
      assert.ok(lines.some((l) => l.startsWith(`dify-s3-gateway: invalid configuration: ${name} `)), `${name} in:\n${stderr}`)
    }
    assert.equal(lines.length, 5, stderr)
  })

  it('in production, refuses placeholder secrets from .env.example and API keys shorter than 16 characters', async () => {
    const { code, stderr } = await refusal({
      NODE_ENV: 'production',
      S3_ENDPOINT: 'http://127.0.0.1:1',
      S3_ACCESS_KEY: 'minioadmin',
      S3_SECRET_KEY: 'change-me-please',
      BUCKET_NAME: 'dify',
      API_KEYS: 'short-key,replace-with-a-long-random-key,a-good-key-of-32-characters-abcd'
    })
    assert.equal(code, 1)
    const text = ownLines(stderr).join('\n')
    assert.match(text, /S3_SECRET_KEY is a placeholder/)
    assert.match(text, /key-[0-9a-f]{8}, key-[0-9a-f]{8}: API keys must be at least 16 characters/)
    assert.ok(!text.includes('short-key') && !text.includes('change-me-please'), 'no secret in the message')
  })

  it('a port in use is one line naming PORT', async () => {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    try {
      const { code, stderr } = await refusal({ PORT: String(port), DATA_DIR: mkdtempSync(join(tmpdir(), 'gw-dev-')) })
      assert.equal(code, 1)
      assert.deepEqual(ownLines(stderr), [`dify-s3-gateway: port ${port} on 127.0.0.1 is in use (EADDRINUSE): stop what listens there, or set PORT to a free port`])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('names the cause of an unusable S3 in one line: wrong credentials (403), a missing bucket', async () => {
    // an S3 that refuses every signature, as AWS, Ceph and MinIO do for a wrong secret
    const refusing = http.createServer((_req, res) => { res.writeHead(403, { 'content-type': 'application/xml' }).end() })
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve))
    const s3 = await startTestS3()
    try {
      let running = await start({ S3_ENDPOINT: `http://127.0.0.1:${(refusing.address() as net.AddressInfo).port}`, S3_ACCESS_KEY: 'wrong', S3_SECRET_KEY: 'wrong', BUCKET_NAME: 'dify' })
      try {
        await logged(running, 'refused the credentials')
        assert.match(running.output(), /refused the credentials \(.*\): check S3_ACCESS_KEY and S3_SECRET_KEY/)
      } finally {
        assert.equal(await stop(running), 0)
      }
      running = await start({ S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKeyId, S3_SECRET_KEY: s3.secretAccessKey, BUCKET_NAME: 'no-such-bucket' })
      try {
        await logged(running, 'does not exist')
        assert.match(running.output(), /bucket "no-such-bucket" does not exist at http:\/\/.*: create it .*or set BUCKET_NAME/)
      } finally {
        assert.equal(await stop(running), 0)
      }
    } finally {
      await s3.close()
      await new Promise((resolve) => refusing.close(resolve))
    }
  })

  it('the embedded S3 listens on a fixed port (EMBEDDED_S3_PORT), so its presigned URLs survive a restart', async () => {
    const s3Port = String(await freePort())
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-dev-'))
    let running = await start({ DATA_DIR: dataDir, EMBEDDED_S3_PORT: s3Port })
    let presigned: string
    try {
      assert.equal((await fetch(`${running.url}/upload/file?s3_key=kept.txt`, { method: 'POST', body: 'kept', headers: { 'content-type': 'text/plain' } })).status, 201)
      const answer = await (await fetch(`${running.url}/presign`, { method: 'POST', body: JSON.stringify({ s3_key: 'kept.txt' }), headers: { 'content-type': 'application/json' } })).json() as { url: string }
      presigned = answer.url
      assert.equal(new URL(presigned).port, s3Port)
    } finally {
      assert.equal(await stop(running), 0)
    }
    running = await start({ DATA_DIR: dataDir, EMBEDDED_S3_PORT: s3Port })
    try {
      const res = await fetch(presigned)
      assert.equal(res.status, 200)
      assert.equal(await res.text(), 'kept')
    } finally {
      await stop(running)
    }
  })

  it('refuses to start in production without S3_ENDPOINT, with one line', async () => {
    const { code, stderr } = await refusal({ NODE_ENV: 'production' })
    assert.equal(code, 1)
    const lines = ownLines(stderr)
    assert.equal(lines.length, 1, stderr)
    assert.match(lines[0] ?? '', /S3_ENDPOINT is required/)
  })

  it('refuses a bad value with one line naming the variable', async () => {
    const { code, stderr } = await refusal({ PORT: 'eighty' })
    assert.equal(code, 1)
    assert.match(ownLines(stderr).join('\n'), /^dify-s3-gateway: invalid configuration: PORT /)
  })

  it('refuses a non-loopback address without API keys', async () => {
    const { code, stderr } = await refusal({ HOST: '0.0.0.0', S3_ENDPOINT: 'http://127.0.0.1:1', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', BUCKET_NAME: 'dify' })
    assert.equal(code, 1)
    assert.match(ownLines(stderr).join('\n'), /API_KEYS .*AUTH_DISABLED=true/)
  })

  it('starts while S3 is down (/healthz 200, /readyz 503), logging JSON lines with the request id in production', async () => {
    const port = await freePort()
    const running = await start({ NODE_ENV: 'production', S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', BUCKET_NAME: 'dify' })
    try {
      assert.equal((await fetch(`${running.url}/healthz`, { headers: { 'x-request-id': 'probe-42' } })).status, 200)
      assert.equal((await fetch(`${running.url}/readyz`)).status, 503)
      await logged(running, 'probe-42')
      // the SDK retries before the bucket check gives up: wait for its line
      await logged(running, 'is unreachable')
      assert.match(running.output(), new RegExp(`S3_ENDPOINT http://127\\.0\\.0\\.1:${port} is unreachable \\(ECONNREFUSED\\): check S3_ENDPOINT`))
      const lines = running.output().split('\n').filter((l) => l.startsWith('{'))
      const ours = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'probe-42')
      assert.deepEqual(ours.map((l) => l.msg), ['incoming request', 'request completed'])
    } finally {
      assert.equal(await stop(running), 0)
    }
  })

  it('with the start script\'s node flags, paces buffer memory while a file streams (metric); without --expose-gc it says so', async () => {
    const s3 = await startTestS3()
    const env = { S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKeyId, S3_SECRET_KEY: s3.secretAccessKey, BUCKET_NAME: s3.bucket }
    const paced = async (running: Running): Promise<number> => {
      const text = await (await fetch(`${running.url}/metrics`)).text()
      const value = /^s3_gateway_paced_gc_total (\d+)$/m.exec(text)?.[1]
      assert.ok(value !== undefined, text.slice(0, 2000))
      return Number(value)
    }
    /** 64 MiB, chunked (no length): the part-buffer path */
    const upload = async (running: Running, key: string): Promise<void> => {
      const block = Buffer.alloc(1024 * 1024, 'x')
      const answer = await send(`${running.url}/upload/file?s3_key=${key}`, { headers: { 'content-type': 'application/octet-stream' }, chunks: Array<Buffer>(64).fill(block) })
      assert.equal(answer.status, 201, answer.body.toString())
      assert.equal((JSON.parse(answer.body.toString()) as { size: number }).size, 64 * 1024 * 1024)
    }
    try {
      const flags = startFlags()
      assert.ok(flags.includes('--expose-gc'), `npm start runs node ${flags.join(' ')}`)
      let running = await start(env, flags)
      try {
        assert.equal(await paced(running), 0, 'nothing streamed yet')
        await upload(running, uniqueKey('paced'))
        assert.ok(await paced(running) >= 1, 'a 64 MiB upload grew buffer memory by 8 MiB at least once')
        assert.ok(!running.output().includes('--expose-gc'), running.output())
      } finally {
        assert.equal(await stop(running), 0)
      }
      running = await start(env)
      try {
        await logged(running, 'without --expose-gc')
        await upload(running, uniqueKey('unpaced'))
        assert.equal(await paced(running), 0)
      } finally {
        assert.equal(await stop(running), 0)
      }
    } finally {
      await s3.close()
    }
  })

  it('keeps freed buffer memory for reuse (MALLOC_KEEP_MIB): downloads fault their pages in once, not for every GC', async () => {
    const s3 = await startTestS3()
    const env = { S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKeyId, S3_SECRET_KEY: s3.secretAccessKey, BUCKET_NAME: s3.bucket }
    const key = uniqueKey('churn')
    const size = 64 * 1024 * 1024
    /** the process's minor page faults (/proc/<pid>/stat, field 10) */
    const faults = (running: Running): number => Number(readFileSync(`/proc/${running.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[7])
    const download = async (running: Running): Promise<void> => {
      const res = await fetch(`${running.url}/download/file?s3_key=${key}&max_bytes=${size}`)
      assert.equal(res.status, 200)
      let got = 0
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) got += chunk.length
      assert.equal(got, size)
    }
    try {
      await putObject(s3, key, Buffer.alloc(size, 'd'))
      const running = await start(env, startFlags())
      try {
        await download(running)
        const before = faults(running)
        for (let i = 0; i < 3; i++) await download(running)
        const counted = faults(running) - before
        // 192 MiB is 49 152 pages of 4 KiB: given back after each GC, they come back as faults
        // (measured with MALLOC_KEEP_MIB=0: 1.5–490 k, by chance: whether glibc had raised its
        // threshold already; with the default: 0.3–3.1 k). Where the blocks go: unit/malloc-keep.test.ts
        assert.ok(counted < 49_152 / 8, `kept for reuse, the pages serve the next chunks: ${counted} faults`)
      } finally {
        assert.equal(await stop(running), 0)
      }
    } finally {
      await s3.close()
    }
  })

  it('re-reads API_KEYS_FILE on SIGHUP: rotated keys take effect without a restart, a broken file keeps the old ones', async () => {
    const s3 = await startTestS3()
    const file = join(mkdtempSync(join(tmpdir(), 'gw-hup-')), 'keys.yaml')
    const entry = (name: string, key: string): string => `keys:\n  - name: ${name}\n    key: ${key}\n    permissions: [list]\n`
    writeFileSync(file, entry('first', 'first-key-0123456789'))
    const running = await start({ S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKeyId, S3_SECRET_KEY: s3.secretAccessKey, BUCKET_NAME: s3.bucket, API_KEYS_FILE: file, LOG_FORMAT: 'json' })
    const status = async (key: string): Promise<number> => {
      const res = await fetch(`${running.url}/list`, { headers: { authorization: `Bearer ${key}` } })
      await res.arrayBuffer()
      return res.status
    }
    try {
      assert.equal(await status('first-key-0123456789'), 200)
      writeFileSync(file, entry('second', 'second-key-0123456789'))
      running.child.kill('SIGHUP')
      await logged(running, 'SIGHUP: API_KEYS_FILE re-read')
      assert.equal(await status('first-key-0123456789'), 401, 'the rotated-out key is refused')
      assert.equal(await status('second-key-0123456789'), 200)
      writeFileSync(file, 'keys:\n  - name: broken\n')
      running.child.kill('SIGHUP')
      await logged(running, 'not re-read, the previous keys stay in force')
      assert.equal(await status('second-key-0123456789'), 200, 'a broken file keeps the keys in force')
      assert.ok(!running.output().includes('second-key-0123456789'), 'no key in the log')
    } finally {
      assert.equal(await stop(running), 0)
      await s3.close()
    }
  })

  describe('graceful shutdown (SIGTERM)', () => {
    const s3Env = (s3: TestS3, extra: Record<string, string>): Record<string, string> => ({
      S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY: s3.accessKeyId, S3_SECRET_KEY: s3.secretAccessKey, BUCKET_NAME: s3.bucket, LOG_FORMAT: 'json', ...extra
    })

    /** an upload whose body the test sends in two halves, with time in between */
    function halfSent (url: string, headers: Record<string, string | number>, first: Buffer): { req: http.ClientRequest, answer: Promise<{ status: number, body: string }> } {
      const req = http.request(url, { method: 'POST', headers })
      const answer = new Promise<{ status: number, body: string }>((resolve, reject) => {
        req.on('response', (res) => {
          let body = ''
          res.on('data', (c: Buffer) => { body += c.toString() })
          res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
        })
        req.on('error', reject)
      })
      req.write(first)
      return { req, answer }
    }

    it('lets an upload in flight finish, refuses new connections, and exits 0', async () => {
      const s3 = await startTestS3()
      const running = await start(s3Env(s3, { SHUTDOWN_TIMEOUT_MS: '10000' }))
      try {
        const key = uniqueKey('in-flight.bin')
        const data = Buffer.alloc(4 * 1024 * 1024, 7)
        const upload = halfSent(`${running.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { 'content-length': data.length }, data.subarray(0, 1024 * 1024))
        await logged(running, '"url":"/upload/file')
        const exited = new Promise<number | null>((resolve) => running.child.once('exit', resolve))
        running.child.kill('SIGTERM')
        await logged(running, 'shutting down')
        await assert.rejects(fetch(`${running.url}/healthz`), 'no new connections once shutting down')
        upload.req.end(data.subarray(1024 * 1024))
        const answer = await upload.answer
        assert.equal(answer.status, 201, answer.body)
        assert.equal(JSON.parse(answer.body).sha256, sha256(data))
        assert.equal(await exited, 0, running.output())
        assert.equal((await objectBody(s3, key))?.length, data.length)
      } finally {
        running.child.kill('SIGKILL')
        await s3.close()
      }
    })

    it('cuts an upload that outlasts SHUTDOWN_TIMEOUT_MS: nothing stored, its multipart upload aborted, exit 0', async () => {
      const s3 = await startTestS3()
      const running = await start(s3Env(s3, { SHUTDOWN_TIMEOUT_MS: '1500' }))
      try {
        const key = uniqueKey('stalled.bin')
        await putObject(s3, key, 'earlier version')
        // chunked, past the first 8 MiB part: a multipart upload is open when the client stalls
        const upload = halfSent(`${running.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { 'transfer-encoding': 'chunked' }, Buffer.alloc(10 * 1024 * 1024, 1))
        upload.answer.catch(() => {})
        await logged(running, '"url":"/upload/file')
        await eventually('a multipart upload open', async () => await countUnfinishedUploads(s3, key) > 0)
        const started = Date.now()
        const exited = new Promise<number | null>((resolve) => running.child.once('exit', resolve))
        running.child.kill('SIGTERM')
        assert.equal(await exited, 0, running.output())
        const took = Date.now() - started
        assert.ok(took >= 1400 && took < 15_000, `exited after ${took} ms`)
        assert.match(running.output(), /shutdown timeout/)
        upload.req.destroy()
        assert.equal((await objectBody(s3, key))?.toString(), 'earlier version')
        await noUnfinishedUploads(s3, key)
      } finally {
        running.child.kill('SIGKILL')
        await s3.close()
      }
    })
  })
})

// The process as `npm start` runs it: with no configuration it starts the
// embedded development S3 and says so; bad configuration stops it with one
// line; it starts while S3 is down; SIGTERM shuts it down cleanly.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'

const SERVER = ['--import', 'tsx', 'src/server.ts']

/** the environment without anything of ours, as on a fresh machine */
function cleanEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(S3_|API_KEYS|BUCKET_NAME|KEY_PREFIX|NODE_ENV|HOST|PORT|DATA_DIR|LOG_LEVEL|LOG_FORMAT|AUTH_DISABLED)/.test(name)) env[name] = value
  }
  return { ...env, ...extra }
}

interface Running { child: ChildProcess, output: () => string, url: string }

async function start (env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, SERVER, { env: cleanEnv({ PORT: '0', ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
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

async function waitFor (check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the log line')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
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
      await waitFor(() => running.output().includes(id))
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
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    await new Promise((resolve) => server.close(resolve))
    const running = await start({ NODE_ENV: 'production', S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', BUCKET_NAME: 'dify' })
    try {
      assert.equal((await fetch(`${running.url}/healthz`, { headers: { 'x-request-id': 'probe-42' } })).status, 200)
      assert.equal((await fetch(`${running.url}/readyz`)).status, 503)
      await waitFor(() => running.output().includes('probe-42'))
      const lines = running.output().split('\n').filter((l) => l.startsWith('{'))
      const ours = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'probe-42')
      assert.deepEqual(ours.map((l) => l.msg), ['incoming request', 'request completed'])
    } finally {
      assert.equal(await stop(running), 0)
    }
  })
})

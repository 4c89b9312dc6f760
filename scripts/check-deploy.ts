// CI's stand-in for `docker compose config` and `docker build && docker run`
// (no Docker engine runs on these machines):
//   node --import tsx scripts/check-deploy.ts            static checks
//   node --import tsx scripts/check-deploy.ts --replay   + replay the Dockerfile
// The replay builds each stage in a temporary directory from exactly what the
// Dockerfile COPYs, runs its RUN commands, then starts its CMD with its ENV
// against an S3 server and checks /healthz (with the HEALTHCHECK command), one
// upload and download, and a clean SIGTERM. A file the image forgets or a
// runtime dependency left in devDependencies fails here.
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEmbeddedS3 } from '../src/s3/embedded.js'
import { checkCompose, checkDockerfile, checkReplicasOverride, parseDockerfile } from './deploy-checks.js'
import { checkKubernetes } from './k8s-checks.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const fail = (message: string): never => { console.error(`check-deploy: ${message}`); process.exit(1) }

async function staticChecks (): Promise<void> {
  const schemaPath = join(ROOT, 'scripts', 'schemas', 'compose-spec.json')
  if (!existsSync(schemaPath)) fail(`${schemaPath} is missing`)
  const read = (...path: string[]): string => readFileSync(join(ROOT, ...path), 'utf8')
  const [composeText, schema, envExample] = [read('docker-compose.yml'), JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>, read('.env.example')]
  const compose = checkCompose(composeText, schema, envExample)
  const docker = checkDockerfile(read('Dockerfile'), ROOT)
  const replicas = checkReplicasOverride(composeText, read('deploy', 'compose', 'replicas.yml'), schema, envExample, ROOT)
  const k8sDir = join(ROOT, 'deploy', 'kubernetes')
  const kubernetes = await checkKubernetes(Object.fromEntries(readdirSync(k8sDir).filter((f) => f.endsWith('.yaml')).map((f) => [f, readFileSync(join(k8sDir, f), 'utf8')])))
  for (const p of compose) console.error(`docker-compose.yml: ${p}`)
  for (const p of replicas) console.error(`deploy/compose/replicas.yml: ${p}`)
  for (const p of docker) console.error(`Dockerfile: ${p}`)
  for (const p of kubernetes) console.error(`deploy/kubernetes/${p}`)
  const count = compose.length + replicas.length + docker.length + kubernetes.length
  if (count > 0) fail(`${count} problem(s)`)
  console.log('check-deploy: docker-compose.yml and deploy/compose/replicas.yml (Compose Specification schema + rules), .env.example, Dockerfile, deploy/kubernetes (Kubernetes API schemas + rules) pass')
}

interface Stage { name: string, root: string, workdir: string, env: Record<string, string> }

function jsonArray (text: string, what: string): string[] {
  try {
    const value = JSON.parse(text) as unknown
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value
  } catch {}
  return fail(`${what} must be an exec-form JSON array (got ${text})`)
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function replay (): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'dockerfile-replay-'))
  const stages: Stage[] = []
  const args = new Map<string, string>()
  let healthcheck: string[] | undefined
  let cmd: string[] | undefined
  const started = Date.now()
  try {
    for (const { keyword, args: text, line } of parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))) {
      const stage = stages.at(-1)
      const inStage = (path: string): string => {
        if (stage === undefined) return fail(`line ${line}: ${keyword} before FROM`)
        return join(stage.root, isAbsolute(path) ? path : join(stage.workdir, path))
      }
      switch (keyword) {
        case 'ARG': {
          const [name, value] = text.split('=')
          if (name !== undefined) args.set(name, value ?? '')
          break
        }
        case 'FROM': {
          const name = /\bAS\s+(\S+)/i.exec(text)?.[1] ?? String(stages.length)
          const root = join(work, name)
          mkdirSync(root)
          stages.push({ name, root, workdir: '/', env: {} })
          healthcheck = undefined
          cmd = undefined
          break
        }
        case 'WORKDIR':
          if (stage === undefined) fail(`line ${line}: WORKDIR before FROM`)
          else { stage.workdir = text; mkdirSync(inStage('.'), { recursive: true }) }
          break
        case 'ENV':
          for (const [, name, value] of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) stage!.env[name as string] = (value as string).replace(/^"|"$/g, '')
          break
        case 'COPY': {
          const from = /--from=(\S+)/.exec(text)?.[1]
          const parts = text.split(/\s+/).filter((p) => !p.startsWith('--'))
          const dest = parts.pop() as string
          const source = from === undefined ? ROOT : stages.find((s) => s.name === from)?.root ?? fail(`line ${line}: no stage ${from}`)
          for (const src of parts) {
            const path = join(source, src)
            if (!existsSync(path)) fail(`line ${line}: COPY ${src}: not found${from !== undefined ? ` in stage ${from}` : ' in the build context'}`)
            const target = dest.endsWith('/') ? join(inStage(dest), src.split('/').filter(Boolean).at(-1) as string) : inStage(dest)
            mkdirSync(dirname(target), { recursive: true })
            cpSync(path, target, { recursive: true, dereference: true })
          }
          break
        }
        case 'RUN': {
          console.log(`check-deploy: [${stage!.name}] RUN ${text}`)
          const result = spawnSync('bash', ['-c', text], { cwd: inStage('.'), env: { ...process.env, ...stage!.env }, stdio: 'inherit' })
          if (result.status !== 0) fail(`line ${line}: RUN ${text} failed (${String(result.status)})`)
          break
        }
        case 'HEALTHCHECK':
          healthcheck = jsonArray(text.slice(text.indexOf('CMD') + 3).trim(), 'HEALTHCHECK CMD')
          break
        case 'CMD':
          cmd = jsonArray(text, 'CMD')
          break
        default:
          break
      }
    }
    const runtime = stages.at(-1) ?? fail('no stage')
    if (cmd === undefined || healthcheck === undefined) fail('the runtime stage needs CMD and HEALTHCHECK')
    for (const dev of ['typescript', 'tsx', 's3rver', 'eslint']) {
      if (existsSync(join(runtime.root, runtime.workdir, 'node_modules', dev))) fail(`the runtime stage ships the dev dependency ${dev}`)
    }
    console.log(`check-deploy: stages built in ${((Date.now() - started) / 1000).toFixed(1)} s; starting ${cmd!.join(' ')}`)

    const s3Dir = mkdtempSync(join(tmpdir(), 'dockerfile-replay-s3-'))
    const s3 = await startEmbeddedS3({ directory: s3Dir, buckets: ['replay'] })
    const port = await freePort()
    const key = 'replay-key-0123456789abcdef'
    // the image's environment, nothing of this machine's but PATH and HOME
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...runtime.env,
      PORT: String(port),
      API_KEYS: key,
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY: s3.accessKeyId,
      S3_SECRET_KEY: s3.secretAccessKey,
      BUCKET_NAME: 'replay'
    }
    const node = process.env.REPLAY_NODE ?? process.execPath
    const [program, ...programArgs] = cmd!
    const child = spawn(program === 'node' ? node : program as string, programArgs, { cwd: join(runtime.root, runtime.workdir), env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => { output += c.toString() })
    child.stderr.on('data', (c: Buffer) => { output += c.toString() })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      const url = `http://127.0.0.1:${port}`
      const deadline = Date.now() + 30_000
      for (;;) {
        if (child.exitCode !== null) fail(`the service exited (${child.exitCode}):\n${output}`)
        if (Date.now() > deadline) fail(`no /healthz within 30 s:\n${output}`)
        const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false)
        if (ok) break
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      const [hcProgram, ...hcArgs] = healthcheck!
      const probe = spawnSync(hcProgram === 'node' ? node : hcProgram as string, hcArgs, { env, timeout: 10_000 })
      if (probe.status !== 0) fail(`the HEALTHCHECK command failed (${String(probe.status)}): ${probe.stderr.toString()}`)
      const auth = { authorization: `Bearer ${key}` }
      const up = await fetch(`${url}/upload/file?s3_key=replay/hello.txt`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hello from the image' })
      if (up.status !== 201) fail(`upload answered ${up.status}: ${await up.text()}`)
      const down = await fetch(`${url}/download/file?s3_key=replay/hello.txt`, { headers: auth })
      if (await down.text() !== 'hello from the image') fail('the download did not return the upload')
      const doc = await fetch(`${url}/openapi.json`)
      if (!doc.ok) fail(`/openapi.json answered ${doc.status}`)
      if (!/^\{"level":/m.test(output)) fail(`production logs are not JSON lines:\n${output}`)
      child.kill('SIGTERM')
      const code = await exited
      if (code !== 0) fail(`SIGTERM: exit code ${String(code)}:\n${output}`)
      console.log(`check-deploy: the image's CMD (${node === process.execPath ? `node ${process.version}` : node}) served /healthz, the HEALTHCHECK, an upload and a download, and exited 0 on SIGTERM`)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      await s3.close()
      rmSync(s3Dir, { recursive: true, force: true })
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

await staticChecks()
if (process.argv.includes('--replay')) await replay()

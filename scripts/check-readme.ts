// CI: the README's examples work as written. Starts `npm start` as a new user
// would (no configuration: the embedded development S3, port 3000), then runs
// every ```sh block that follows a `<!-- readme-check: run -->` line, in order,
// in a fresh directory, with bash -euo pipefail; curl fails on any HTTP error
// (--fail-with-body), so a 4xx or 5xx answer fails the check.
//   node --import tsx scripts/check-readme.ts
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SETTINGS } from '../src/config.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const fail = (message: string): never => { console.error(`check-readme: ${message}`); process.exit(1) }

/** the blocks marked to run, with the line each starts on */
export function runnableBlocks (markdown: string): Array<{ line: number, script: string }> {
  const blocks: Array<{ line: number, script: string }> = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '<!-- readme-check: run -->') continue
    if (lines[i + 1]?.trim() !== '```sh') fail(`README.md:${i + 1}: the marker must be followed by a \`\`\`sh block`)
    const end = lines.indexOf('```', i + 2)
    if (end === -1) fail(`README.md:${i + 2}: the block never ends`)
    blocks.push({ line: i + 3, script: lines.slice(i + 2, end).join('\n') })
  }
  return blocks
}

async function main (): Promise<void> {
  const blocks = runnableBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  if (blocks.length === 0) fail('no block of README.md is marked <!-- readme-check: run -->')
  const work = mkdtempSync(join(tmpdir(), 'readme-check-'))
  // a fresh shell's environment: none of the service's settings
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SETTINGS.includes(name)))
  // a service already on port 3000 would answer for ours
  if (await fetch('http://127.0.0.1:3000/healthz').then(() => true, () => false)) fail('port 3000 already answers HTTP: stop what listens there, the README\'s examples talk to port 3000')
  const server = spawn('npm', ['start'], { cwd: ROOT, env: { ...env, DATA_DIR: join(work, 'data') }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  server.stdout.on('data', (c: Buffer) => { output += c.toString() })
  server.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const stop = (): void => { try { process.kill(-(server.pid as number), 'SIGTERM') } catch {} }
  /** poll `ready` until it holds; fail if npm start exits first or `ms` pass (then say `late`) */
  const until = async (ready: () => Promise<boolean> | boolean, ms: number, everyMs: number, late: string): Promise<void> => {
    const started = Date.now()
    while (!await ready()) {
      if (server.exitCode !== null) fail(`npm start exited ${server.exitCode}:\n${output}`)
      if (Date.now() - started > ms) fail(`${late}:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  }
  try {
    await until(async () => await fetch('http://127.0.0.1:3000/healthz').then((r) => r.ok, () => false), 120_000, 250, 'npm start did not answer /healthz within 120 s')
    // the log lines come from pino's transport thread, which can lag behind
    // the first answers on a loaded machine: they arrive in order, so the
    // listening line, logged after the banner, says the banner is in
    await until(() => /Server listening at/.test(output), 30_000, 100, 'npm start answered /healthz but logged no listening line within 30 s')
    if (!/DEVELOPMENT STORAGE/.test(output)) fail(`npm start did not say it runs the embedded development S3:\n${output}`)
    for (const { line, script } of blocks) {
      const file = join(work, 'block.sh')
      writeFileSync(file, `set -euo pipefail\ncurl () { command curl --fail-with-body --max-time 30 "$@"; }\n${script}\n`)
      const run = spawnSync('bash', [file], { cwd: work, encoding: 'utf8', timeout: 120_000, env })
      process.stdout.write(`--- README.md:${line}\n${run.stdout}`)
      if (run.status !== 0) fail(`the block at README.md:${line} failed (exit ${String(run.status)}):\n${run.stdout}\n${run.stderr}`)
    }
    console.log(`check-readme: ${blocks.length} blocks of README.md ran against npm start`)
  } finally {
    stop()
    rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()

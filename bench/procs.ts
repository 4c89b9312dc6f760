// Child processes for the bench (service, relay, s3rver) and what the kernel
// says about them: CPU time from /proc/<pid>/stat, peak RSS from
// /proc/<pid>/status (VmHWM).
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const TICKS_PER_SECOND = 100

export interface Child {
  proc: ChildProcess
  pid: number
  /** what the child printed after "listening " */
  address: string
  stop: () => Promise<void>
}

/**
 * Start `node <args>` and wait for its "listening <address>" line (or, with
 * `ready`, for that check to pass). Its output is dropped after that, so
 * that logging costs what it costs in production: a write to a pipe nobody
 * waits on.
 */
export async function startChild (name: string, args: string[], env: NodeJS.ProcessEnv, ready?: () => Promise<boolean>): Promise<Child> {
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000) })
  const exited = new Promise<never>((resolve, reject) => {
    proc.once('exit', (code) => { reject(new Error(`${name} exited with ${code ?? 'a signal'} before it was ready:\n${stderr}`)) })
  })
  exited.catch(() => {})
  const lines = createInterface({ input: proc.stdout! })
  const listening = new Promise<string>((resolve) => {
    lines.on('line', (line) => {
      const match = /^listening (\S+)/.exec(line)
      if (match?.[1] !== undefined) resolve(match[1])
    })
  })
  let address = ''
  const deadline = Date.now() + 30_000
  if (ready === undefined) {
    address = await withTimeout(Promise.race([listening, exited]), 30_000, () => `${name} did not start within 30 s:\n${stderr}`)
  } else {
    while (!(await ready().catch(() => false))) {
      if (proc.exitCode !== null) await exited
      if (Date.now() > deadline) throw new Error(`${name} did not become ready within 30 s:\n${stderr}`)
      await sleep(50)
    }
  }
  // readline's close() pauses its input: close it first, then keep draining
  lines.close()
  // the output as a log shipper would (into BENCH_LOG_DIR when set): a full
  // pipe would block the child's synchronous log writes
  const logDir = process.env.BENCH_LOG_DIR
  if (logDir !== undefined && logDir !== '') proc.stdout?.pipe(createWriteStream(join(logDir, `${name}-${proc.pid ?? 0}.log`)))
  else proc.stdout?.resume()
  return {
    proc,
    pid: proc.pid!,
    address,
    stop: async () => await stopChild(proc)
  }
}

async function stopChild (proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const gone = new Promise<void>((resolve) => proc.once('exit', () => { resolve() }))
  proc.kill('SIGTERM')
  const killer = setTimeout(() => {
    console.error(`bench: pid ${proc.pid ?? '?'} ignored SIGTERM for 15 s; killing it`)
    proc.kill('SIGKILL')
  }, 15_000)
  await gone
  clearTimeout(killer)
}

/** user and system (kernel) CPU seconds the process has used so far */
export function cpuSeconds (pid: number): { user: number, system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // the command name may hold spaces: count fields after its closing ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND }
}

/**
 * The machine's CPU time so far, all cores (/proc/stat): busy (user, nice,
 * system, irq, softirq, steal) and in all, in ticks. The bench client, the
 * hop and S3 share these cores: a transfer that keeps them busy is bound by
 * CPU, and a hop is then as fast as the CPU it leaves to the others.
 */
export function machineTicks (): { busy: number, total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)
  return { busy, total: busy + (idle ?? 0) + (iowait ?? 0) }
}

/** the share (0–1) of all cores' time the machine was busy since `before` (machineTicks()) */
export function busySince (before: { busy: number, total: number }): number {
  const now = machineTicks()
  return (now.busy - before.busy) / Math.max(1, now.total - before.total)
}

/** peak resident set size in bytes (VmHWM) */
export function peakRss (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status)
  if (match?.[1] === undefined) throw new Error(`no VmHWM for ${pid}`)
  return Number(match[1]) * 1024
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

export async function withTimeout<T> (promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((resolve, reject) => { timer = setTimeout(() => { reject(new Error(message())) }, ms) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

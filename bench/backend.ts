// The S3 server the bench runs against: the embedded s3rver in its own
// process (default), Ceph radosgw on bluestore (BENCH_S3=ceph), or any
// endpoint (BENCH_S3=external with BENCH_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startChild } from './procs.js'

export interface Backend {
  kind: string
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  bucket: string
  /** what it is, for the report */
  describe: string
  stop: () => Promise<void>
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const BUCKET = 'bench'

export async function startBackend (kind: string): Promise<Backend> {
  if (kind === 's3rver') {
    const child = await startChild('s3rver', ['--import', 'tsx', join(root, 'bench/s3rver.ts')], { ...process.env, BUCKET })
    return { kind, endpoint: child.address, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', bucket: BUCKET, describe: 's3rver 3.7.1 (embedded, own process, disk in $TMPDIR)', stop: child.stop }
  }
  if (kind === 'ceph') return await startCeph()
  if (kind === 'external') {
    const endpoint = required('BENCH_S3_ENDPOINT')
    return {
      kind,
      endpoint,
      accessKeyId: required('BENCH_S3_ACCESS_KEY'),
      secretAccessKey: required('BENCH_S3_SECRET_KEY'),
      bucket: process.env.BENCH_S3_BUCKET ?? BUCKET,
      describe: `external S3 at ${endpoint}`,
      stop: async () => {}
    }
  }
  throw new Error(`BENCH_S3=${kind}: use s3rver (default), ceph or external`)
}

function required (name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`BENCH_S3=external needs ${name}`)
  return value
}

async function startCeph (): Promise<Backend> {
  const script = process.env.CEPH_RGW_SH ?? resolve(root, 'scripts/ceph-rgw.sh')
  if (!existsSync(script)) throw new Error(`BENCH_S3=ceph needs ${script} (or CEPH_RGW_SH); install Ceph first with: bash ${script} install`)
  const dir = await mkdtemp(join(tmpdir(), 'bench-ceph-'))
  const port = process.env.RGW_PORT ?? '8000'
  const env = {
    ...process.env,
    OBJECTSTORE: 'bluestore',
    RGW_PORT: port,
    // a sparse file: only what is written takes disk; deleted objects are
    // collected after a minute, so leave room for several GiB of garbage
    BLUESTORE_GB: process.env.BLUESTORE_GB ?? '64'
  }
  const run = async (...args: string[]): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const proc = spawn('bash', [script, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] })
      proc.on('error', reject)
      proc.on('exit', (code) => { code === 0 ? resolve() : reject(new Error(`ceph-rgw.sh ${args.join(' ')} exited with ${code ?? 'a signal'}`)) })
    })
  }
  await run('start', dir)
  return {
    kind: 'ceph',
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: process.env.S3_KEY ?? 'testkey',
    secretAccessKey: process.env.S3_SECRET ?? 'testsecret',
    bucket: BUCKET,
    describe: 'Ceph radosgw 16.2 (Debian 12), bluestore on a sparse file, single OSD on loopback',
    stop: async () => { await run('stop', dir) }
  }
}

// The embedded s3rver in a process of its own, so that it never shares an
// event loop with the bench client. Prints "listening <endpoint>".
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedS3 } from '../src/s3/embedded.js'

const directory = await mkdtemp(join(tmpdir(), 'bench-s3rver-'))
const s3 = await startEmbeddedS3({ directory, buckets: [process.env.BUCKET ?? 'bench'], port: Number(process.env.PORT ?? 0) })
console.log(`listening ${s3.endpoint}`)
process.on('SIGTERM', () => {
  s3.close().finally(async () => { await rm(directory, { recursive: true, force: true }); process.exit(0) }).catch(() => {})
})

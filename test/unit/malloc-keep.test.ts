// keepFreedMemory raises glibc's mmap threshold (and with it the trim
// threshold, twice it): after it, 8 MiB buffers come from the heap, which
// glibc trims only beyond MALLOC_KEEP_MIB free, instead of a mapping of its
// own. Seen in a child process of its own (glibc's thresholds are per
// process) by the size of its [heap] in /proc/self/maps. What that buys a
// download (page faults) is test/server.test.ts's.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { keepFreedMemory } from '../../src/transfer/malloc-keep.js'

const module = fileURLToPath(new URL('../../src/transfer/malloc-keep.ts', import.meta.url))

const PROBE = `
import { readFileSync } from 'node:fs'
import { keepFreedMemory } from ${JSON.stringify(module)}
const heap = () => {
  const line = readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => l.endsWith('[heap]'))
  if (line === undefined) return 0
  const [from, to] = line.split(' ')[0].split('-').map((x) => parseInt(x, 16))
  return to - from
}
keepFreedMemory(Number(process.argv[1]))
const before = heap()
const blocks = Array.from({ length: 6 }, () => Buffer.allocUnsafeSlow(8 * 1024 * 1024).fill(1))
console.log(heap() - before, blocks.length)
`

/** how much [heap] grew for six 8 MiB buffers after keepFreedMemory(bytes) */
function heapGrowth (bytes: number, env: NodeJS.ProcessEnv = {}): number {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--expose-gc', '--input-type=module', '-e', PROBE, String(bytes)], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } })
  return Number(out.trim().split(' ')[0])
}

const MiB = 1024 ** 2

describe('keepFreedMemory', () => {
  it('puts blocks below half of it in the heap; with glibc\'s first threshold pinned they get mappings of their own', () => {
    // the heap may have had up to 32 MiB free at its top already (what it keeps): of 48 MiB, 16 at least are new
    const kept = heapGrowth(32 * MiB)
    assert.ok(kept >= 16 * MiB, `after keepFreedMemory(32 MiB), 8 MiB blocks come from the heap: it grew ${kept} bytes`)
    // a tunable turns glibc's dynamic threshold off: 128 KiB, as a fresh process has it
    const pinned = heapGrowth(32 * MiB, { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072' })
    assert.ok(pinned < 8 * MiB, `pinned, 8 MiB blocks are mmapped: the heap grew ${pinned} bytes`)
  })

  it('gives the block back by one scavenge, and does nothing for 0', () => {
    const calls: Array<{ type: 'minor' } | undefined> = []
    keepFreedMemory(0, (options) => { calls.push(options) })
    assert.equal(calls.length, 0)
    keepFreedMemory(32 * MiB, (options) => { calls.push(options) })
    assert.deepEqual(calls, [{ type: 'minor' }])
  })
})

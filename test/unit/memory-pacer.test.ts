// The memory pacer: a scavenge each time buffer memory has grown by its
// threshold, looked at only while transfers run; nothing without a GC function.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryPacer } from '../../src/transfer/memory-pacer.js'

const MiB = 1024 * 1024

/** a pacer over a fake buffer gauge; each GC frees what `freed()` says */
function fake (growth = 8 * MiB, intervalMs = 1000) {
  const state = { bytes: 100 * MiB, gcs: 0, live: 100 * MiB }
  const pacer = new MemoryPacer({
    growth,
    intervalMs,
    gc: (options) => {
      assert.deepEqual(options, { type: 'minor' })
      state.gcs++
      state.bytes = state.live
    },
    bufferBytes: () => state.bytes
  })
  return { pacer, state }
}

describe('memory pacer', () => {
  it('asks for a scavenge once buffers grew by the threshold since the last one', () => {
    const { pacer, state } = fake()
    pacer.begin()
    state.bytes += 7 * MiB
    pacer.check()
    assert.equal(state.gcs, 0, '7 MiB of growth is under 8 MiB')
    state.bytes += 1 * MiB
    pacer.check()
    assert.equal(state.gcs, 1, '8 MiB of growth')
    assert.equal(pacer.collections, 1)
    // measured again after the GC: live part buffers (here 20 MiB more) are the new baseline
    state.live = 120 * MiB
    state.bytes = 127 * MiB
    pacer.check()
    assert.equal(state.gcs, 2, '27 MiB over the first baseline')
    state.bytes = 127 * MiB
    pacer.check()
    assert.equal(state.gcs, 2, 'only 7 MiB over the baseline taken after the GC')
    pacer.end()
  })

  it('follows buffer memory down, so that growth is counted from the lowest point', () => {
    const { pacer, state } = fake()
    pacer.begin()
    state.bytes = 60 * MiB
    pacer.check()
    state.bytes = 68 * MiB
    pacer.check()
    assert.equal(state.gcs, 1, '8 MiB above the low of 60 MiB, though under the 100 MiB it began at')
    pacer.end()
  })

  it('looks on a timer only while transfers run', async () => {
    const { pacer, state } = fake(8 * MiB, 2)
    /** buffers grow by 64 MiB; then wait for the timer (every 2 ms) to look */
    const grow = async (ms = 50): Promise<void> => {
      state.bytes += 64 * MiB
      await sleep(ms)
    }
    await grow(20)
    assert.equal(state.gcs, 0, 'no transfer: no timer')
    pacer.begin()
    pacer.begin()
    await grow()
    assert.equal(state.gcs, 1, 'one transfer running: the timer found the growth')
    pacer.end()
    await grow()
    assert.equal(state.gcs, 2, 'the second transfer still runs')
    pacer.end()
    await grow()
    assert.equal(state.gcs, 2, 'both ended: the timer stopped')
    pacer.end()
    pacer.begin()
    await grow()
    assert.equal(state.gcs, 3, 'an extra end() does not leave the count below zero')
    pacer.end()
  })

  it('does nothing without a GC function (node without --expose-gc)', () => {
    let read = 0
    const pacer = new MemoryPacer({ gc: undefined, bufferBytes: () => { read++; return 0 } })
    assert.equal(pacer.enabled, false)
    pacer.begin()
    pacer.check()
    pacer.end()
    assert.equal(read, 0)
    assert.equal(pacer.collections, 0)
  })
})

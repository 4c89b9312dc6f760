// The memory pacer: a scavenge each time buffer memory has grown by its
// threshold, a full GC each time the JS heap has, looked at only while
// transfers run; nothing without a GC function.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryPacer } from '../../src/transfer/memory-pacer.js'

const MiB = 1024 * 1024

/** a pacer over a fake buffer gauge; each GC frees what `freed()` says */
function fake (growth = 8 * MiB, intervalMs = 1000) {
  const state = { bytes: 100 * MiB, gcs: 0, live: 100 * MiB, heap: 40 * MiB, liveHeap: 40 * MiB, fullGcs: 0 }
  const pacer = new MemoryPacer({
    growth,
    intervalMs,
    gc: (options) => {
      if (options === undefined) {
        // a full GC: the heap's dead objects and the dead buffers
        state.fullGcs++
        state.heap = state.liveHeap
      } else {
        assert.deepEqual(options, { type: 'minor' })
        state.gcs++
      }
      state.bytes = state.live
    },
    memory: () => ({ buffers: state.bytes, heap: state.heap })
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

  it('while JSON text streams, asks for a full GC once the JS heap grew by 16 MiB since the last one (its dead strings)', () => {
    const { pacer, state } = fake()
    pacer.begin()
    state.heap += 32 * MiB
    pacer.check()
    assert.equal(state.fullGcs, 0, 'no text streaming: the heap is V8\'s to schedule')
    state.heap -= 32 * MiB
    pacer.textBegin()
    state.heap += 15 * MiB
    pacer.check()
    assert.equal(state.fullGcs, 0, '15 MiB of heap growth is under 16 MiB')
    state.heap += 1 * MiB
    state.bytes += 9 * MiB
    pacer.check()
    assert.deepEqual([state.fullGcs, state.gcs], [1, 0], 'one full GC, which frees the buffers too: no scavenge besides')
    assert.equal(pacer.fullCollections, 1)
    // measured after the GC: 10 MiB more of live heap is the new baseline
    state.liveHeap = 50 * MiB
    state.heap = 65 * MiB
    pacer.check()
    assert.equal(state.fullGcs, 2, '25 MiB over the first baseline')
    state.heap = 65 * MiB
    pacer.check()
    assert.equal(state.fullGcs, 2, 'only 15 MiB over the baseline taken after the GC')
    // the heap shrank on its own (V8's own GC): growth counts from the low
    state.heap = 30 * MiB
    pacer.check()
    state.heap = 46 * MiB
    pacer.check()
    assert.equal(state.fullGcs, 3, '16 MiB above the low of 30 MiB')
    pacer.textEnd()
    state.heap += 20 * MiB
    pacer.check()
    assert.equal(state.fullGcs, 3, 'the text ended')
    pacer.end()
  })

  it('counts the heap\'s growth across scavenges (they promote what they do not free)', () => {
    const { pacer, state } = fake()
    pacer.begin()
    pacer.textBegin()
    for (let i = 0; i < 3; i++) {
      state.heap += 6 * MiB
      state.bytes += 8 * MiB
      pacer.check()
    }
    assert.deepEqual([state.gcs, state.fullGcs], [2, 1], 'two scavenges for the buffers, then a full GC at 18 MiB of heap growth')
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
    const pacer = new MemoryPacer({ gc: undefined, memory: () => { read++; return { buffers: 0, heap: 0 } } })
    assert.equal(pacer.enabled, false)
    pacer.begin()
    pacer.check()
    pacer.end()
    assert.equal(read, 0)
    assert.equal(pacer.collections, 0)
    assert.equal(pacer.fullCollections, 0)
  })
})

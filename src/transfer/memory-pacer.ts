// Dead buffers freed by the bytes streamed, not by chance. A streamed chunk is
// a small JS object holding 16–64 KiB of memory outside the JS heap; it is
// freed only when a young-generation GC (a scavenge) finds the object dead,
// and V8 schedules scavenges by JS allocation, which streaming hardly does.
// While transfers run, the pacer looks at the process's memory outside the
// heap every few milliseconds and asks for a scavenge when it has grown by
// 8 MiB (`growth`) since the last one. The GC work follows the bytes
// streamed, and eight concurrent streams no longer race ahead of the
// allocation-driven scavenges (8 × 256 MiB chunked uploads: 250 → 237 MiB
// peak, bench/README).
// A JSON body streamed as text (base64) is the other way round: its strings
// are JS heap, and those that outlive two scavenges (several streams at once
// make most of them) are promoted to the old generation, which only a full GC
// frees and V8 schedules one only when that generation has doubled or so
// (8 × 24 MiB base64 uploads: +86 MiB of dead strings). So while such a body
// streams (textBegin/textEnd), the pacer also asks for a full GC when the
// heap has grown by 16 MiB (`heapGrowth`) since the last one. Only then: under
// a load of many small requests the heap grows the same way, and there V8's
// own schedule costs less CPU (a full GC of the ~35 MiB heap is ~30 ms). Node 20's
// gc({ type: 'major' }) runs a scavenge (measured): the full GC is gc().
// It needs `node --expose-gc` (npm start and the image pass it); without it,
// it does nothing.
import { getHeapStatistics } from 'node:v8'

/** gc({ type: 'minor' }) a scavenge, gc() a full GC: the --expose-gc function */
export type Gc = (options?: { type: 'minor' }) => void

/** globalThis.gc when node runs with --expose-gc */
export const exposedGc = (): Gc | undefined => (globalThis as { gc?: Gc }).gc

export interface PacerOptions {
  /** buffer memory growth (bytes) that triggers a scavenge */
  growth?: number
  /** how often to look (ms) while transfers run */
  intervalMs?: number
  /** JS heap growth (bytes) that triggers a full GC */
  heapGrowth?: number
  /** the GC to call; default: globalThis.gc when node runs with --expose-gc */
  gc?: Gc | undefined
  /** memory outside the JS heap now (buffers), and the JS heap in use; default: V8's heap statistics, 0.4 µs a call */
  memory?: () => { buffers: number, heap: number }
}

export class MemoryPacer {
  /** scavenges asked for so far */
  collections = 0
  /** full GCs asked for so far */
  fullCollections = 0
  private active = 0
  private texts = 0
  private timer: NodeJS.Timeout | undefined
  private baseline = 0
  private heapBaseline = 0
  private readonly growth: number
  private readonly heapGrowth: number
  private readonly intervalMs: number
  private readonly gc: Gc | undefined
  private readonly memory: () => { buffers: number, heap: number }

  constructor (options: PacerOptions = {}) {
    this.growth = options.growth ?? 8 * 1024 * 1024
    this.heapGrowth = options.heapGrowth ?? 16 * 1024 * 1024
    this.intervalMs = options.intervalMs ?? 5
    this.gc = 'gc' in options ? options.gc : exposedGc()
    this.memory = options.memory ?? (() => {
      const heap = getHeapStatistics()
      return { buffers: heap.external_memory, heap: heap.used_heap_size }
    })
  }

  /** whether it can do anything (a GC function is available) */
  get enabled (): boolean { return this.gc !== undefined }

  /** a transfer starts: look while any runs */
  begin (): void {
    if (this.gc === undefined || this.active++ > 0) return
    const { buffers, heap } = this.memory()
    this.baseline = buffers
    this.heapBaseline = heap
    this.timer = setInterval(() => { this.check() }, this.intervalMs)
    this.timer.unref()
  }

  /** a body streamed as JSON text (base64) starts: watch the heap too while any does */
  textBegin (): void {
    if (this.texts++ === 0) this.heapBaseline = this.memory().heap
  }

  textEnd (): void {
    if (this.texts > 0) this.texts--
  }

  /** a transfer ended (or failed) */
  end (): void {
    if (this.gc === undefined || this.active === 0 || --this.active > 0) return
    clearInterval(this.timer)
    this.timer = undefined
  }

  check (): void {
    if (this.gc === undefined) return
    const { buffers, heap } = this.memory()
    // live buffers (part buffers, sockets') and the heap can shrink below their baselines
    if (buffers < this.baseline) this.baseline = buffers
    if (heap < this.heapBaseline) this.heapBaseline = heap
    if (this.texts > 0 && heap - this.heapBaseline >= this.heapGrowth) {
      // a full GC frees the dead buffers too
      this.gc()
      this.fullCollections++
      const after = this.memory()
      this.baseline = after.buffers
      this.heapBaseline = after.heap
    } else if (buffers - this.baseline >= this.growth) {
      // a scavenge promotes as much as it frees: the heap's growth still counts from before it
      this.gc({ type: 'minor' })
      this.collections++
      this.baseline = this.memory().buffers
    }
  }
}

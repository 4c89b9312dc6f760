// Dead buffers freed by the bytes streamed, not by chance. A streamed chunk is
// a small JS object holding 16–64 KiB of memory outside the JS heap; it is
// freed only when a young-generation GC (a scavenge) finds the object dead,
// and V8 schedules scavenges by JS allocation, which streaming hardly does.
// npm start keeps the young generation at 1 MiB for that reason; on top of
// it, while transfers run, the pacer looks at the process's memory outside
// the heap every few milliseconds and asks for a scavenge when it has grown
// by 8 MiB (`growth`) since the last one. The GC work follows the bytes
// streamed, and eight concurrent streams no longer race ahead of the
// allocation-driven scavenges (8 × 256 MiB chunked uploads: 250 → 237 MiB
// peak, bench/README).
// It needs `node --expose-gc` (npm start and the image pass it); without it,
// it does nothing.
import { getHeapStatistics } from 'node:v8'

type MinorGc = (options: { type: 'minor' }) => void

export interface PacerOptions {
  /** buffer memory growth (bytes) that triggers a scavenge */
  growth?: number
  /** how often to look (ms) while transfers run */
  intervalMs?: number
  /** the GC to call; default: globalThis.gc when node runs with --expose-gc */
  gc?: MinorGc | undefined
  /** memory outside the JS heap now (buffers); default: V8's external memory, 0.4 µs a call */
  bufferBytes?: () => number
}

export class MemoryPacer {
  /** scavenges asked for so far */
  collections = 0
  private active = 0
  private timer: NodeJS.Timeout | undefined
  private baseline = 0
  private readonly growth: number
  private readonly intervalMs: number
  private readonly gc: MinorGc | undefined
  private readonly bufferBytes: () => number

  constructor (options: PacerOptions = {}) {
    this.growth = options.growth ?? 8 * 1024 * 1024
    this.intervalMs = options.intervalMs ?? 5
    this.gc = 'gc' in options ? options.gc : (globalThis as { gc?: MinorGc }).gc
    this.bufferBytes = options.bufferBytes ?? (() => getHeapStatistics().external_memory)
  }

  /** whether it can do anything (a GC function is available) */
  get enabled (): boolean { return this.gc !== undefined }

  /** a transfer starts: look while any runs */
  begin (): void {
    if (this.gc === undefined || this.active++ > 0) return
    this.baseline = this.bufferBytes()
    this.timer = setInterval(() => { this.check() }, this.intervalMs)
    this.timer.unref()
  }

  /** a transfer ended (or failed) */
  end (): void {
    if (this.gc === undefined || this.active === 0 || --this.active > 0) return
    clearInterval(this.timer)
    this.timer = undefined
  }

  check (): void {
    if (this.gc === undefined) return
    const now = this.bufferBytes()
    // live buffers (part buffers, sockets') can shrink below the baseline
    if (now < this.baseline) this.baseline = now
    if (now - this.baseline < this.growth) return
    this.gc({ type: 'minor' })
    this.collections++
    this.baseline = this.bufferBytes()
  }
}

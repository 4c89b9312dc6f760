// Freed buffer memory kept for reuse instead of handed back to the kernel
// and faulted in again. A streamed chunk's 16–64 KiB live in glibc's malloc
// heap, and they are freed in batches: each GC that finds a few MiB of dead
// chunks (the pacer asks for one every 8 MiB). glibc gives the top of its heap
// back to the kernel once more than M_TRIM_THRESHOLD of it is free — 128 KiB
// in a fresh process — so each batch went back, and the next one came in as
// fresh zeroed pages: a 1 GiB download through a fresh service took 230–490 k
// page faults and 1.5–2.5 s of CPU, most of it the kernel's.
//
// glibc raises that threshold by itself (mallopt(3), M_MMAP_THRESHOLD: the
// dynamic threshold): when a block it had mmapped is freed, M_MMAP_THRESHOLD
// becomes that block's size and M_TRIM_THRESHOLD twice it. A service that has
// freed one 5 MiB part buffer is already there; one that has only served
// downloads never gets there. So once started the service frees one block of
// half `bytes` (mmapped, never touched: no RSS), and from then on glibc keeps
// up to `bytes` of free heap for the next chunks (1 GiB download: ~0.3–2 k
// faults, 0.8–1.1 s of CPU; bench/README). Blocks smaller than half of it now
// come from the heap too (part buffers: reused there, as they were reused
// from the pool).
//
// glibc raises M_MMAP_THRESHOLD to 32 MiB at most (a block of 32 MiB and its
// header is past it): hence MALLOC_KEEP_MIB ≤ 62.
//
// Setting glibc.malloc.trim_threshold or mmap_threshold in GLIBC_TUNABLES
// turns the dynamic threshold off, and this with it; on another libc it does
// nothing.
import { exposedGc, type Gc } from './memory-pacer.js'

/**
 * Free one mmapped block of half `bytes`, by a scavenge (a full GC here would
 * set V8's old-generation limit from the small heap of a process just
 * started: Node 24 then ran full GCs all through a download, twice the CPU);
 * without --expose-gc it is freed at the next GC.
 */
export function keepFreedMemory (bytes: number, gc: Gc | undefined = exposedGc()): void {
  if (!(bytes > 0)) return
  // allocUnsafeSlow: malloc, not the pool; its pages are never written, so never resident; dropped at once
  Buffer.allocUnsafeSlow(Math.floor(bytes / 2))
  gc?.({ type: 'minor' })
}

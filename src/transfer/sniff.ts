// Content type from the bytes (API.md Part 2): when neither content_type, the
// upload's own type nor the key's extension names one, the first bytes are
// matched against magic numbers (file-type) before falling back to
// application/octet-stream. Only the head is read, never the object.
import type { Readable } from 'node:stream'
import { fileTypeFromBuffer } from 'file-type'

/** what file-type reads at most for its checks */
export const SNIFF_BYTES = 4100
export const FALLBACK_TYPE = 'application/octet-stream'

export async function sniffType (head: Uint8Array): Promise<string> {
  if (head.length === 0) return FALLBACK_TYPE
  try {
    return (await fileTypeFromBuffer(head))?.mime ?? FALLBACK_TYPE
  } catch {
    return FALLBACK_TYPE
  }
}

/**
 * Read up to `bytes` from a paused stream, or all of it when shorter. The
 * caller writes them on ahead of the rest. Rejects when the stream fails or
 * `signal` aborts first.
 */
export async function readHead (source: Readable, bytes: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  while (length < bytes && !source.readableEnded) {
    signal.throwIfAborted()
    const chunk = source.read() as Buffer | null
    if (chunk !== null) {
      chunks.push(chunk)
      length += chunk.length
      continue
    }
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: unknown): void => {
        source.off('readable', onReady)
        source.off('end', onReady)
        source.off('error', onError)
        source.off('close', onReady)
        signal.removeEventListener('abort', onAbort)
        if (err !== undefined) reject(err)
        else resolve()
      }
      const onReady = (): void => { settle() }
      const onError = (err: Error): void => { settle(err) }
      const onAbort = (): void => { settle(signal.reason) }
      source.on('readable', onReady)
      source.on('end', onReady)
      source.on('error', onError)
      source.on('close', onReady)
      signal.addEventListener('abort', onAbort)
    })
    if (source.destroyed && !source.readableEnded) {
      signal.throwIfAborted()
      throw new Error('the body ended before it was complete')
    }
  }
  return Buffer.concat(chunks)
}

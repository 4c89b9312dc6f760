// A body whose length is only guessed — a form's file part, bounded by the
// request's Content-Length and exact when it is the form's last part (Dify's
// shape for one file, curl's with its fields first) — stored at the speed of
// a body whose length is known: one streamed PUT of the guessed length. Its
// bytes are kept in buffers from a budget of their own while they go, and
// the PUT cannot complete before the body has ended: its last chunk waits.
// The body ends at the guess: that chunk goes and S3 stores the object. It
// ends short, or runs past the guess (more parts followed the file, another
// closing): the PUT is cut (S3 keeps nothing of a PUT short of its length)
// and the kept bytes, then the rest of the body, go again the way a body of
// unknown length goes. So a wrong guess costs time, never the object.
import { once } from 'node:events'
import { PassThrough, type Readable } from 'node:stream'

export type Put = (body: Readable, size: number | undefined) => Promise<{ etag: string }>

export interface Guessed {
  /** the guessed length, in bytes (≥ 1) */
  guess: number
  /** room for `guess` bytes: buffers of one size, used in order */
  buffers: Buffer[]
  /** a streamed PUT of `size` bytes, or of unknown length */
  put: Put
}

class GuessMissed extends Error {
  constructor () {
    super('the body did not have the guessed length')
  }
}

/** write with backpressure; a settled `put` (failed) stops the wait */
export async function send (stream: PassThrough, chunk: Buffer, put: Promise<unknown>): Promise<void> {
  if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), put.then(() => {}, () => {})])
}

export async function putGuessed ({ guess, buffers, put }: Guessed, body: AsyncIterable<Buffer>): Promise<{ etag: string, guessed: boolean }> {
  // their PUTs answer for them: an error of theirs is never unheard
  const first = new PassThrough().on('error', () => {})
  const firstPut = put(first, guess)
  /** a PUT that failed by itself (not cut): the upload fails with it */
  let failed: unknown
  firstPut.catch((err: unknown) => { if (again === undefined) failed ??= err })
  let kept = 0
  let held: Buffer | undefined
  let again: { stream: PassThrough, put: Promise<{ etag: string }> } | undefined

  const keep = (chunk: Buffer): void => {
    let offset = 0
    while (offset < chunk.length) {
      const at = kept + offset
      const buffer = buffers[Math.floor(at / buffers[0]!.length)]!
      offset += chunk.copy(buffer, at % buffer.length, offset)
    }
    kept += chunk.length
  }
  /** the guess missed: cut the PUT, and send what was kept the other way (`size` when the body has ended) */
  const retry = (size: number | undefined): NonNullable<typeof again> => {
    first.destroy(new GuessMissed())
    const stream = new PassThrough().on('error', () => {})
    const retried = { stream, put: put(stream, size) }
    retried.put.catch((err: unknown) => { failed ??= err })
    const partSize = buffers[0]!.length
    for (let at = 0; at < kept; at += partSize) stream.write(buffers[at / partSize]!.subarray(0, Math.min(partSize, kept - at)))
    again = retried
    return retried
  }

  try {
    for await (const chunk of body) {
      if (failed !== undefined) throw failed
      if (again === undefined && kept + chunk.length <= guess) {
        keep(chunk)
        if (held !== undefined) await send(first, held, firstPut)
        held = chunk
        continue
      }
      const retried = again ?? retry(undefined)
      await send(retried.stream, chunk, retried.put)
    }
    if (again === undefined && kept === guess) {
      first.end(held)
      return { ...await firstPut, guessed: true }
    }
    const retried = again ?? retry(kept)
    retried.stream.end()
    await firstPut.catch(() => {})
    return { ...await retried.put, guessed: false }
  } catch (err) {
    // the body failed: neither PUT may complete
    const reason = err instanceof Error ? err : new Error(String(err))
    first.destroy(reason)
    again?.stream.destroy(reason)
    await Promise.allSettled([firstPut, again?.put])
    throw err
  }
}

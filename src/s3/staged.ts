// A body whose length is only guessed and too large to keep in memory (a
// form's file part past UPLOAD_GUESS_MAX_MIB, guessed.ts for the rest),
// stored at the speed of a body whose length is known: one streamed PUT of
// the guessed length to a staging key beside the bucket's objects, nothing
// kept. The body ends at the guess (the form's last part, Dify's and curl's
// shape): the staged object is the file, and one server-side CopyObject puts
// it in place (Ceph shares the data: ~0.2 s per GiB measured). It ends short
// (more parts followed the file): the PUT is filled up with zeros so that it
// completes, and the file — the staged object's first bytes — is copied into
// place by range (UploadPartCopy). It runs past the guess (a closing without
// its line break, a few bytes): those bytes go as a last part after the copy.
// A body that fails stores nothing at the key; the staged object is deleted
// whatever happens, so a wrong guess costs time, never the object.
import { PassThrough, type Readable } from 'node:stream'
import { AppError } from '../errors.js'
import { send } from './guessed.js'

/** the most bytes past the guess a form can hold (a closing without CRLF is 2; this bounds a lying body) */
const MAX_TAIL = 64 * 1024
const ZEROS = Buffer.alloc(1024 * 1024)

export interface Staging {
  /** the guessed length, in bytes (≥ 1) */
  guess: number
  /** a streamed PUT of `size` bytes to the staging key */
  put: (body: Readable, size: number) => Promise<unknown>
  /**
   * the object at the key becomes the staged object's first `length` bytes
   * (all of it when `whole`), then `tail`
   */
  commit: (length: number, whole: boolean, tail: Buffer | undefined) => Promise<{ etag: string }>
  /** delete the staged object, if there is one; never throws */
  discard: () => Promise<void>
}

export async function putStaged ({ guess, put, commit, discard }: Staging, body: AsyncIterable<Buffer>): Promise<{ etag: string, guessed: boolean }> {
  const stream = new PassThrough().on('error', () => {})
  const putting = put(stream, guess)
  let failed: unknown
  putting.catch((err: unknown) => { failed ??= err })
  let sent = 0
  const tail: Buffer[] = []
  let tailBytes = 0
  try {
    try {
      for await (const chunk of body) {
        if (failed !== undefined) throw failed
        const room = guess - sent
        if (chunk.length <= room) {
          await send(stream, chunk, putting)
          sent += chunk.length
          continue
        }
        if (room > 0) {
          await send(stream, chunk.subarray(0, room), putting)
          sent = guess
        }
        tailBytes += chunk.length - room
        if (tailBytes > MAX_TAIL) throw new AppError('MISSING_FILE', `Malformed multipart body: a file part ran more than ${MAX_TAIL} bytes past what the Content-Length left it`)
        tail.push(Buffer.from(chunk.subarray(room)))
      }
      if (failed !== undefined) throw failed
      if (sent === 0 && tailBytes === 0) {
        // an empty file (other parts followed): nothing staged is needed
        stream.destroy(new Error('the file part was empty'))
        await putting.catch(() => {})
        return { ...await commit(0, false, undefined), guessed: false }
      }
      const whole = sent === guess && tailBytes === 0
      // ended short: the staged PUT is completed with zeros, which the commit leaves out
      for (let left = guess - sent; left > 0; left -= ZEROS.length) {
        await send(stream, left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left), putting)
        if (failed !== undefined) throw failed
      }
      stream.end()
      await putting
      const { etag } = await commit(sent, whole, tailBytes > 0 ? Buffer.concat(tail) : undefined)
      return { etag, guessed: whole }
    } catch (err) {
      // the body failed: the staged PUT must not complete (and if it did, it goes below)
      stream.destroy(err instanceof Error ? err : new Error(String(err)))
      await putting.catch(() => {})
      throw err
    }
  } finally {
    await discard()
  }
}

// The stream every upload passes through on its way to S3: it counts bytes,
// enforces the size limit, hashes with SHA-256, and holds back the most recent
// chunk until the stream ends so that a checksum mismatch can fail the upload
// before S3 has the last byte (S3 creates the object only then, so an earlier
// object at the key survives).
import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { AppError, payloadTooLarge } from '../errors.js'

export class UploadGuard extends Transform {
  bytes = 0
  /** hex SHA-256 of everything that passed, set when the stream ends */
  sha256: string | undefined
  private readonly hash: Hash = createHash('sha256')
  private held: Buffer | undefined

  /** `expectedSha256`: the SHA-256 to check at the end, or where to read it then (a parameter may come after the bytes) */
  constructor (private readonly maxBytes: number, private readonly expectedSha256?: string | (() => string | undefined)) {
    super()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    if (this.bytes > this.maxBytes) {
      callback(payloadTooLarge(this.maxBytes))
      return
    }
    this.hash.update(chunk)
    const previous = this.held
    this.held = chunk
    callback(null, previous)
  }

  override _flush (callback: TransformCallback): void {
    this.sha256 = this.hash.digest('hex')
    const expected = typeof this.expectedSha256 === 'function' ? this.expectedSha256() : this.expectedSha256
    if (expected !== undefined && expected !== this.sha256) {
      callback(checksumMismatch(expected, this.sha256))
      return
    }
    callback(null, this.held)
  }
}

export function checksumMismatch (expected: string, actual: string): AppError {
  return new AppError('CHECKSUM_MISMATCH', `SHA-256 mismatch: expected ${expected}, received content has ${actual}; nothing was stored`)
}

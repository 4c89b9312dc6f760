// A byte stream cut into blocks of a fixed size, for work that needs whole
// blocks: base64 in multiples of 3 bytes, multipart uploads in parts.

export interface Block {
  data: Buffer
  /** bytes filled: the block size, but for a shorter last block */
  bytes: number
}

/**
 * Copy `source` into blocks of exactly `size` bytes, each in a buffer from
 * `next()` (at least `size` bytes: a fresh one, or one the consumer is done
 * with; it may wait for one). A block is the consumer's until it asks for the next one. The last
 * block may be shorter; an empty one is not yielded.
 */
export async function * blocks (source: AsyncIterable<Buffer>, size: number, next: () => Buffer | Promise<Buffer>): AsyncGenerator<Block> {
  let block = await next()
  let filled = 0
  for await (const chunk of source) {
    let offset = 0
    while (offset < chunk.length) {
      const copied = chunk.copy(block, filled, offset)
      filled += copied
      offset += copied
      if (filled === size) {
        yield { data: block, bytes: size }
        block = await next()
        filled = 0
      }
    }
  }
  if (filled > 0) yield { data: block, bytes: filled }
}

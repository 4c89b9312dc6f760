// The multipart writer for bodies of unknown length (src/s3/multipart.ts),
// against the real S3 server: part boundaries, backpressure, retries, and
// failures that must leave no object and no unfinished upload. Every case
// runs with each way parts go out: the SDK's UploadPart, and signed.ts
// (what the service uses). Failures of single S3 calls are injected in the
// client's middleware stack, and for parts, in front of the part sender.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3'
import { createAgents, createS3Client } from '../src/s3/client.js'
import { PartBuffers, partSizeFor, sdkPartSender, uploadStream, type PartSender } from '../src/s3/multipart.js'
import { statusOf } from '../src/s3/errors.js'
import { signedS3For } from '../src/s3/signed.js'
import { countUnfinishedUploads, objectBody, sha256, startTestS3, testConfig, uniqueKey, type TestS3 } from './helper.js'

const MiB = 1024 * 1024
const PART = 5 * MiB

/** `size` random bytes in 1 MiB reads, counting what was read, optionally failing at `failAt` */
function source (size: number, options: { failAt?: number } = {}): { stream: Readable, data: Buffer, read: () => number } {
  const data = randomBytes(size)
  let offset = 0
  const stream = new Readable({
    read () {
      if (options.failAt !== undefined && offset >= options.failAt) {
        this.destroy(new Error('the source broke'))
        return
      }
      const next = data.subarray(offset, Math.min(size, offset + MiB))
      offset += next.length
      this.push(next.length > 0 ? next : null)
    }
  })
  return { stream, data, read: () => offset }
}

type Injection = (command: string, input: Record<string, unknown>) => Promise<void> | void

interface Writer {
  client: S3Client
  sendPart: PartSender
}

/** a part sender to `bucket` */
type Senders = Record<string, (s3: TestS3, client: S3Client, bucket: string) => Promise<PartSender>>

const SENDERS: Senders = {
  "the SDK's UploadPart": async (_s3, client, bucket) => sdkPartSender(client, bucket),
  'signed.ts': async (s3, client, bucket) => {
    const config = testConfig(s3).s3
    const signed = await signedS3For(client, bucket, config, createAgents(config))
    assert.ok(signed !== undefined, 'the signed path addresses this S3 server')
    return signed.putPart
  }
}

/**
 * A client and part sender whose calls pass through `inject` first (it may
 * throw, or wait): the client's other calls in its middleware stack, parts
 * (as UploadPartCommand) in front of `sender`.
 */
async function writerWith (s3: TestS3, sender: Senders[string], inject: Injection): Promise<Writer> {
  const client = createS3Client(testConfig(s3).s3)
  // first: the signed path presigns a URL through the client once
  const send = await sender(s3, client, s3.bucket)
  client.middlewareStack.add((next, context) => async (args) => {
    const command = context.commandName ?? ''
    if (command !== 'UploadPartCommand') await inject(command, args.input as Record<string, unknown>)
    return await next(args)
  }, { step: 'initialize', name: 'injectFaults' })
  return {
    client,
    sendPart: async (part) => {
      await inject('UploadPartCommand', { PartNumber: part.partNumber })
      return await send(part)
    }
  }
}

function s3Error (status: number, name: string): Error {
  return Object.assign(new Error(`injected ${name}`), { name, $metadata: { httpStatusCode: status } })
}

for (const [senderName, sender] of Object.entries(SENDERS)) {
  describe(`multipart writer (bodies of unknown length), parts by ${senderName}`, () => {
    let s3: TestS3
    before(async () => { s3 = await startTestS3() })
    after(async () => { await s3?.close() })

    const clientWith = async (inject: Injection): Promise<Writer> => await writerWith(s3, sender, inject)
    const upload = async ({ client, sendPart }: Writer, key: string, body: Readable, extra: { queueSize?: number, signal?: AbortSignal, buffers?: PartBuffers } = {}): Promise<{ etag: string | undefined }> =>
      await uploadStream({ client, sendPart, bucket: s3.bucket, key, contentType: 'application/octet-stream', partSize: PART, queueSize: extra.queueSize ?? 1, signal: extra.signal, buffers: extra.buffers }, body)

    for (const size of [0, 1000, PART - 1, PART, PART + 1, 2 * PART + PART / 2]) {
      it(`stores ${size} bytes intact, in ${Math.max(1, Math.ceil(size / PART))} part(s) or one PUT`, async () => {
        const calls: string[] = []
        const writer = await clientWith((command, input) => { calls.push(command === 'UploadPartCommand' ? `part ${String(input.PartNumber)}` : command) })
        const key = uniqueKey('mp.bin')
        const { stream, data } = source(size)
        await upload(writer, key, stream)
        assert.equal(sha256((await objectBody(s3, key)) ?? Buffer.alloc(1)), sha256(data))
        const parts = Math.ceil(size / PART)
        assert.deepEqual(calls, size < PART
          ? ['PutObjectCommand']
          : ['CreateMultipartUploadCommand', ...Array.from({ length: parts }, (_, i) => `part ${i + 1}`), 'CompleteMultipartUploadCommand'])
        assert.equal(await countUnfinishedUploads(s3, key), 0)
        writer.client.destroy()
      })
    }

    it('reads no further than the parts it holds while S3 is slow (backpressure)', async () => {
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => { release = resolve })
      const writer = await clientWith(async (command) => { if (command === 'UploadPartCommand') await gate })
      const key = uniqueKey('slow.bin')
      const { stream, data, read } = source(6 * PART)
      const done = upload(writer, key, stream, { queueSize: 1 })
      await new Promise((resolve) => setTimeout(resolve, 500))
      // queueSize (1) part buffers: the part uploading; the stream's own buffer may hold 1 MiB more
      assert.ok(read() <= PART + 2 * MiB, `read ${(read() / MiB).toFixed(1)} MiB while S3 held the first part`)
      release()
      await done
      assert.equal(read(), 6 * PART)
      assert.equal(sha256((await objectBody(s3, key)) ?? Buffer.alloc(1)), sha256(data))
      writer.client.destroy()
    })

    it("hands its part buffers to the next upload (a failed upload's too), and each part sends only its own bytes", async () => {
      const taken: Buffer[] = []
      const pool = new (class extends PartBuffers {
        override tryTake (): Buffer | undefined {
          const buffer = super.tryTake()
          if (buffer !== undefined) taken.push(buffer)
          return buffer
        }
      })(PART, 2)
      const writer = await clientWith(() => {})
      const first = { key: uniqueKey('pooled-1.bin'), ...source(2 * PART + 1000) }
      await upload(writer, first.key, first.stream, { queueSize: 2, buffers: pool })
      const buffers = new Set(taken)
      assert.equal(buffers.size, 2, 'two part buffers for two parts at once')
      assert.equal(pool.idleCount, 2)

      taken.length = 0
      await assert.rejects(upload(writer, uniqueKey('pooled-broken.bin'), source(4 * PART, { failAt: PART + 3 * MiB }).stream, { queueSize: 2, buffers: pool }), /the source broke/)
      assert.ok(taken.length > 0 && taken.every((buffer) => buffers.has(buffer)), 'the failed upload took the first one\'s buffers')
      assert.equal(pool.idleCount, 2, 'and gave them back once its parts had settled')
      assert.equal(pool.inUse, 0)

      // a short last part in a buffer that held a whole part before
      taken.length = 0
      const second = { key: uniqueKey('pooled-2.bin'), ...source(PART + 1000) }
      await upload(writer, second.key, second.stream, { queueSize: 2, buffers: pool })
      assert.ok(taken.length > 0 && taken.every((buffer) => buffers.has(buffer)))
      assert.equal(sha256((await objectBody(s3, second.key)) ?? Buffer.alloc(1)), sha256(second.data))
      assert.equal(sha256((await objectBody(s3, first.key)) ?? Buffer.alloc(1)), sha256(first.data))
      assert.equal(pool.idleCount, 2)
      writer.client.destroy()
    })

    it('uploads that share a budget of one part buffer take turns and all complete', async () => {
      const pool = new PartBuffers(PART, 1, 1)
      let most = 0
      const writer = await clientWith(() => { most = Math.max(most, pool.inUse) })
      const bodies = [3 * PART + 7, 2 * PART, PART + 1].map((size) => ({ key: uniqueKey('budget.bin'), ...source(size) }))
      await Promise.all(bodies.map(async (body) => await upload(writer, body.key, body.stream, { queueSize: 3, buffers: pool })))
      for (const body of bodies) assert.equal(sha256((await objectBody(s3, body.key)) ?? Buffer.alloc(1)), sha256(body.data))
      assert.equal(most, 1, 'never more than the budget out')
      assert.equal(pool.inUse, 0)
      writer.client.destroy()
    })

    it('retries a part that S3 failed with 503 once, and stores the object intact', async () => {
      let failures = 0
      const writer = await clientWith((command, input) => {
        if (command === 'UploadPartCommand' && input.PartNumber === 2 && failures++ === 0) throw s3Error(503, 'SlowDown')
      })
      const key = uniqueKey('retry.bin')
      const { stream, data } = source(3 * PART)
      await upload(writer, key, stream)
      assert.equal(failures, 2, 'part 2 was sent twice')
      assert.equal(sha256((await objectBody(s3, key)) ?? Buffer.alloc(1)), sha256(data))
      writer.client.destroy()
    })

    it('a part S3 keeps failing → rejects, stops reading, aborts the upload: no object, nothing unfinished', async () => {
      let attempts = 0
      const writer = await clientWith((command, input) => {
        if (command === 'UploadPartCommand' && input.PartNumber === 2) { attempts++; throw s3Error(500, 'InternalError') }
      })
      const key = uniqueKey('broken.bin')
      const { stream, read } = source(20 * PART)
      await assert.rejects(upload(writer, key, stream), { name: 'InternalError' })
      assert.equal(attempts, 3, 'three attempts, then the upload fails')
      assert.ok(read() < 6 * PART, `read ${(read() / MiB).toFixed(1)} MiB of ${20 * PART / MiB} after the failure`)
      assert.equal(await objectBody(s3, key), undefined)
      assert.equal(await countUnfinishedUploads(s3, key), 0)
      writer.client.destroy()
    })

    it('a 403 on a part is not retried', async () => {
      let attempts = 0
      const writer = await clientWith((command) => { if (command === 'UploadPartCommand') { attempts++; throw s3Error(403, 'AccessDenied') } })
      const key = uniqueKey('denied.bin')
      await assert.rejects(upload(writer, key, source(2 * PART).stream), { name: 'AccessDenied' })
      assert.equal(attempts, 1)
      assert.equal(await countUnfinishedUploads(s3, key), 0)
      writer.client.destroy()
    })

    it('a source that breaks mid-way → rejects with its error; no object, nothing unfinished', async () => {
      const writer = await clientWith(() => {})
      const key = uniqueKey('cut.bin')
      await assert.rejects(upload(writer, key, source(4 * PART, { failAt: PART + 3 * MiB }).stream), /the source broke/)
      assert.equal(await objectBody(s3, key), undefined)
      assert.equal(await countUnfinishedUploads(s3, key), 0)
      writer.client.destroy()
    })

    it('an abort signal mid-way → rejects with its reason; no object, nothing unfinished', async () => {
      const writer = await clientWith(() => {})
      const key = uniqueKey('aborted.bin')
      const abort = new AbortController()
      const { stream, read } = source(20 * PART)
      const done = upload(writer, key, stream, { signal: abort.signal })
      const started = Date.now()
      while (read() < 2 * PART && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 10))
      abort.abort(new Error('the client left'))
      await assert.rejects(done, /the client left/)
      assert.equal(await objectBody(s3, key), undefined)
      assert.equal(await countUnfinishedUploads(s3, key), 0)
      writer.client.destroy()
    })

    it("a part S3 refuses (no such bucket) → S3's own error, shaped as the SDK shapes it (code as name, HTTP status)", async () => {
      const client = createS3Client(testConfig(s3).s3)
      const send = await sender(s3, client, `${s3.bucket}-missing`)
      const part = { key: uniqueKey('nothing.bin'), uploadId: 'no-such-upload', partNumber: 1, data: randomBytes(1000), signal: new AbortController().signal }
      await assert.rejects(send(part), (err: Error) => {
        assert.equal(err.name, 'NoSuchBucket')
        assert.equal(statusOf(err), 404)
        return true
      })
      client.destroy()
    })
  })
}

describe('multipart writer: part buffers', () => {
  it('keeps at most `keep` buffers between uploads, of the pool\'s size', async () => {
    const pool = new PartBuffers(PART, 2)
    const buffers = [pool.tryTake(), pool.tryTake(), pool.tryTake()].filter((b) => b !== undefined)
    assert.equal(buffers.length, 3)
    assert.ok(buffers.every((buffer) => buffer.length === PART))
    pool.give(buffers)
    assert.equal(pool.idleCount, 2)
    assert.equal(pool.tryTake(), buffers[1])
    await assert.rejects(uploadStream({ client: {} as S3Client, bucket: 'b', key: 'k', contentType: 'x', partSize: 6 * MiB, queueSize: 1, buffers: pool }, Readable.from([])), /part buffers of 5242880 bytes for parts of 6291456/)
  })
})

describe('multipart writer: the budget of all uploads\' part buffers', () => {
  it('hands out at most `limit` buffers, and a waiter wakes when one comes back', async () => {
    const pool = new PartBuffers(PART, 1, 2)
    const a = pool.tryTake()
    const b = pool.tryTake()
    assert.ok(a !== undefined && b !== undefined)
    assert.equal(pool.tryTake(), undefined, 'the budget is spent')
    assert.equal(pool.inUse, 2)
    const woke = pool.returned()
    pool.give([a])
    await woke
    assert.equal(pool.inUse, 1)
    assert.equal(pool.tryTake(), a, 'the buffer kept for the next upload')
    assert.throws(() => new PartBuffers(PART, 1, 0), /at least one buffer/)
  })
})

describe('multipart writer: part size', () => {
  it('sizes parts so that MAX_UPLOAD_BYTES fits in 10 000 of them', () => {
    assert.equal(partSizeFor(5 * 1024 * MiB), 5 * MiB)
    assert.equal(partSizeFor(5 * 1024 * MiB, 8 * MiB), 8 * MiB)
    assert.equal(partSizeFor(100 * 1024 * MiB), 11 * MiB)
    assert.ok(partSizeFor(5 * 1024 * 1024 * MiB) * 10_000 >= 5 * 1024 * 1024 * MiB)
  })
})

describe('the S3 server: a part of an upload that is aborted', () => {
  let s3: TestS3
  before(async () => { s3 = await startTestS3() })
  after(async () => { await s3.close() })

  it('a part still arriving when its upload is aborted, and a part after, leave no upload and the server serving', async () => {
    const key = uniqueKey('aborted-part')
    const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }))
    assert.ok(UploadId !== undefined)
    // a part whose body comes slowly: 1 MiB, then (after the abort) the rest
    let release = (): void => {}
    const released = new Promise<void>((resolve) => { release = resolve })
    const body = Readable.from((async function * () {
      yield randomBytes(MiB)
      await released
      yield randomBytes(MiB)
    })())
    const inFlight = s3.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: body, ContentLength: 2 * MiB }))
      .then(() => 'stored', (err: Error) => err.name)
    await new Promise((resolve) => setTimeout(resolve, 200))
    await s3.client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: key, UploadId }))
    release()
    // S3 may take the part in flight or refuse it; either way the upload is gone
    assert.match(await inFlight, /^(stored|NoSuchUpload)$/)
    await assert.rejects(s3.client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 2, Body: randomBytes(1024) })),
      (err: Error) => err.name === 'NoSuchUpload')
    assert.equal(await countUnfinishedUploads(s3, key), 0)
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'still serving' }))
    assert.equal((await objectBody(s3, key))?.toString(), 'still serving')
  })
})

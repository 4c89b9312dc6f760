// A gateway whose clock is off by an hour, against a real S3 server (which
// refuses requests dated more than 15 minutes away): the calls signed without
// the SDK's stack (signed.ts) take S3's time from its answers as the SDK
// does, into the offset they share with the SDK client, and recover.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { S3Client } from '@aws-sdk/client-s3'
import { createAgents, createS3Client } from '../src/s3/client.js'
import { uploadStream } from '../src/s3/multipart.js'
import { signedS3For, type SignedS3 } from '../src/s3/signed.js'
import { objectBody, putObject, sha256, startTestS3, testConfig, uniqueKey, type TestS3 } from './helper.js'

const HOUR = 3_600_000
const MiB = 1024 * 1024

describe('signed calls with a skewed clock', () => {
  let s3: TestS3
  let client: S3Client
  let signed: SignedS3

  before(async () => {
    s3 = await startTestS3()
    const config = testConfig(s3).s3
    client = createS3Client(config)
    const made = await signedS3For(client, s3.bucket, config, createAgents(config))
    assert.ok(made !== undefined, 'the signed path addresses this S3 server')
    signed = made
  })
  after(async () => {
    client?.destroy()
    await s3?.close()
  })

  /** our clock an hour behind S3's, as far as the client knows */
  const skew = (): void => { client.config.systemClockOffset = HOUR }
  const corrected = (): boolean => Math.abs(client.config.systemClockOffset) < 5 * 60_000

  it('GetObject: S3 refuses the date, the clock is corrected from its answer and the retry reads the object', async () => {
    const key = uniqueKey('clock-get.bin')
    const data = randomBytes(100_000)
    await putObject(s3, key, data)
    skew()
    const { status, body } = await signed.get(key)
    assert.equal(status, 200)
    const chunks: Buffer[] = []
    for await (const chunk of body) chunks.push(chunk as Buffer)
    assert.deepEqual(Buffer.concat(chunks), data)
    assert.ok(corrected(), `offset ${client.config.systemClockOffset} ms after S3's answer`)
  })

  it('PutObject of a stream (not sent twice): fails with RequestTimeTooSkewed, corrects the clock, the next one is stored', async () => {
    const key = uniqueKey('clock-put.bin')
    const data = randomBytes(100_000)
    skew()
    await assert.rejects(signed.put(key, Readable.from([data]), data.length, 'application/octet-stream'), { name: 'RequestTimeTooSkewed' })
    assert.ok(corrected())
    assert.equal(await objectBody(s3, key), undefined)
    await signed.put(key, Readable.from([data]), data.length, 'application/octet-stream')
    assert.deepEqual(await objectBody(s3, key), data)
  })

  it('UploadPart: the part is retried with the corrected date, and the multipart upload completes', async () => {
    const key = uniqueKey('clock-parts.bin')
    const data = randomBytes(11 * MiB)
    const sent: number[] = []
    const sendPart: typeof signed.putPart = async (part) => {
      // as though the clock jumped after CreateMultipartUpload (which the SDK dates and corrects itself)
      if (part.partNumber === 2 && sent.filter((n) => n === 2).length === 0) skew()
      sent.push(part.partNumber)
      return await signed.putPart(part)
    }
    await uploadStream({ client, bucket: s3.bucket, key, contentType: 'application/octet-stream', partSize: 5 * MiB, queueSize: 1, sendPart }, Readable.from([data]))
    assert.deepEqual(sent, [1, 2, 2, 3], 'part 2 went twice')
    assert.ok(corrected())
    assert.equal(sha256((await objectBody(s3, key)) ?? Buffer.alloc(1)), sha256(data))
  })
})

// Uploads that go straight from the client to S3, past Dify's size limits
// (API.md Part 2 "Large files"): presigned POST policies with
// content-length-range, and presigned multipart uploads (the calls Uppy's
// @uppy/aws-s3 makes through Companion's protocol). Every URL is signed for
// S3_PUBLIC_ENDPOINT; nothing is kept between calls, so any replica can sign
// the next part.
import { createHmac } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { S3Config } from '../config.js'
import { encodeKey } from './signed.js'
import { toAppError } from './errors.js'
import type { Bounded } from './objects.js'

export interface PresignedPost {
  /** the bucket's URL, ending in "/": a form POSTed there with `fields` and then `file` stores the object */
  url: string
  fields: Record<string, string>
}

export interface UploadedPart { PartNumber: number, ETag: string, Size: number }

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest()

/** SigV4 date forms: 20260101T000000Z and 20260101 */
function amzDates (now: Date): { dateTime: string, date: string } {
  const dateTime = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
  return { dateTime, date: dateTime.slice(0, 8) }
}

export class DirectUploads {
  constructor (
    private readonly client: S3Client,
    /** signs for S3_PUBLIC_ENDPOINT */
    private readonly presignClient: S3Client,
    private readonly config: S3Config,
    private readonly bounded: Bounded
  ) {}

  private get publicEndpoint (): URL {
    return new URL(this.config.publicEndpoint ?? this.config.endpoint ?? 'http://127.0.0.1')
  }

  /** the bucket's URL as clients reach it, path-style or virtual-hosted as the SDK addresses it */
  bucketUrl (): string {
    const endpoint = this.publicEndpoint
    const base = endpoint.href.replace(/\/+$/, '')
    if (this.config.forcePathStyle) return `${base}/${this.config.bucket}/`
    return `${endpoint.protocol}//${this.config.bucket}.${endpoint.host}${endpoint.pathname.replace(/\/+$/, '')}/`
  }

  /**
   * A POST policy (SigV4, the S3 browser-upload form): the key fixed, the size
   * within 0..maxBytes, the Content-Type fixed when given. The signing is a
   * dozen lines of HMAC, which is why the SDK's s3-presigned-post package (it
   * pins another client-s3) is not pulled in for it.
   */
  presignPost (key: string, options: { expiresIn: number, maxBytes: number, contentType?: string | undefined, now?: Date }): PresignedPost {
    const now = options.now ?? new Date()
    const { dateTime, date } = amzDates(now)
    const credential = `${this.config.accessKeyId}/${date}/${this.config.region}/s3/aws4_request`
    const fields: Record<string, string> = {
      key,
      ...(options.contentType !== undefined ? { 'Content-Type': options.contentType } : {}),
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': credential,
      'X-Amz-Date': dateTime
    }
    const policy = {
      expiration: new Date(now.getTime() + options.expiresIn * 1000).toISOString(),
      conditions: [
        { bucket: this.config.bucket },
        ['eq', '$key', key],
        ['content-length-range', 0, options.maxBytes],
        ...(options.contentType !== undefined ? [['eq', '$Content-Type', options.contentType]] : []),
        { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
        { 'x-amz-credential': credential },
        { 'x-amz-date': dateTime }
      ]
    }
    const encoded = Buffer.from(JSON.stringify(policy), 'utf8').toString('base64')
    const signingKey = hmac(hmac(hmac(hmac(`AWS4${this.config.secretAccessKey}`, date), this.config.region), 's3'), 'aws4_request')
    return { url: this.bucketUrl(), fields: { ...fields, Policy: encoded, 'X-Amz-Signature': hmac(signingKey, encoded).toString('hex') } }
  }

  /** the object's URL (Uppy's `location`) */
  objectUrl (key: string): string {
    return this.bucketUrl() + encodeKey(key)
  }

  async createMultipart (key: string, contentType: string): Promise<string> {
    try {
      const out = await this.bounded(key, async (abortSignal) => await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.config.bucket, Key: key, ContentType: contentType }), { abortSignal }))
      if (out.UploadId === undefined) throw new Error('CreateMultipartUpload answered without an UploadId')
      return out.UploadId
    } catch (err) {
      throw toAppError(err, key)
    }
  }

  async presignPart (key: string, uploadId: string, partNumber: number, expiresIn: number): Promise<string> {
    return await getSignedUrl(this.presignClient, new UploadPartCommand({ Bucket: this.config.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber }), { expiresIn })
  }

  /** every part S3 holds for the upload, in order */
  async listParts (key: string, uploadId: string): Promise<UploadedPart[]> {
    const parts: UploadedPart[] = []
    let marker: string | undefined
    try {
      for (let page = 0; page < 10; page++) {
        const out = await this.bounded(key, async (abortSignal) => await this.client.send(new ListPartsCommand({ Bucket: this.config.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }), { abortSignal }))
        for (const p of out.Parts ?? []) parts.push({ PartNumber: p.PartNumber ?? 0, ETag: p.ETag ?? '', Size: p.Size ?? 0 })
        if (out.IsTruncated !== true || out.NextPartNumberMarker === undefined) break
        marker = out.NextPartNumberMarker
      }
      return parts
    } catch (err) {
      throw toAppError(err, `upload ${uploadId} of ${key}`)
    }
  }

  async complete (key: string, uploadId: string, parts: Array<{ PartNumber: number, ETag: string }>): Promise<void> {
    try {
      await this.bounded(key, async (abortSignal) => await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.config.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }
      }), { abortSignal }))
    } catch (err) {
      throw toAppError(err, `upload ${uploadId} of ${key}`)
    }
  }

  async abort (key: string, uploadId: string): Promise<void> {
    try {
      await this.bounded(key, async (abortSignal) => await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key: key, UploadId: uploadId }), { abortSignal }))
    } catch (err) {
      throw toAppError(err, `upload ${uploadId} of ${key}`)
    }
  }
}

// The bucket's other operations, for the agent toolset: list, stat, delete
// (one key or a batch), and server-side copy — CopyObject up to S3's 5 GiB
// limit, a multipart upload of UploadPartCopy parts above it. No object byte
// passes through the service.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CopyObjectCommandInput,
  type HeadObjectCommandOutput,
  type S3Client
} from '@aws-sdk/client-s3'
import { AppError } from '../errors.js'
import { encodeKey } from './signed.js'
import { toAppError } from './errors.js'

/** S3's CopyObject limit: larger objects are copied in parts */
export const MAX_SINGLE_COPY = 5 * 1024 ** 3
const MAX_PARTS = 10_000
const MIN_PART = 5 * 1024 ** 2
const COPY_PART = 512 * 1024 ** 2
const PARTS_AT_ONCE = 4

export interface ListedObject { key: string, size: number, etag: string, last_modified: string | null }
export interface Listing {
  objects: ListedObject[]
  commonPrefixes: string[]
  isTruncated: boolean
  nextContinuationToken: string | undefined
}

export interface ObjectStat {
  size: number
  contentType: string
  etag: string
  lastModified: Date | undefined
  metadata: Record<string, string>
}

export interface DeleteOutcome {
  deleted: string[]
  errors: Array<{ key: string, code: string, message: string }>
}

/** A call's runner: the store's deadline (S3_TIMEOUT_MS) around one S3 call */
export type Bounded = <T>(what: string, call: (signal: AbortSignal) => Promise<T>) => Promise<T>

export class BucketObjects {
  constructor (
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly bounded: Bounded,
    /** objects above it are copied in parts (tests lower it) */
    private readonly singleCopyMax = MAX_SINGLE_COPY
  ) {}

  async list (options: { prefix: string, delimiter: string | undefined, maxKeys: number, continuationToken: string | undefined }): Promise<Listing> {
    try {
      const out = await this.bounded(options.prefix, async (abortSignal) => await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: options.prefix === '' ? undefined : options.prefix,
        Delimiter: options.delimiter,
        MaxKeys: options.maxKeys,
        ContinuationToken: options.continuationToken
      }), { abortSignal }))
      return {
        objects: (out.Contents ?? []).map((o) => ({ key: o.Key ?? '', size: o.Size ?? 0, etag: o.ETag ?? '', last_modified: o.LastModified?.toISOString() ?? null })),
        commonPrefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? '').filter((p) => p !== ''),
        isTruncated: out.IsTruncated === true,
        nextContinuationToken: out.IsTruncated === true ? out.NextContinuationToken : undefined
      }
    } catch (err) {
      // a continuation token S3 cannot read is the caller's mistake
      if ((err as { name?: string }).name === 'InvalidArgument' && options.continuationToken !== undefined) {
        throw new AppError('INVALID_PARAMETER', 'continuation_token is not one that a listing of this prefix answered', { cause: err })
      }
      throw toAppError(err, `list of ${options.prefix === '' ? 'the bucket' : options.prefix}`)
    }
  }

  private async headObject (key: string): Promise<HeadObjectCommandOutput> {
    try {
      return await this.bounded(key, async (abortSignal) => await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }))
    } catch (err) {
      throw toAppError(err, key)
    }
  }

  async stat (key: string): Promise<ObjectStat> {
    const out = await this.headObject(key)
    return {
      size: out.ContentLength ?? 0,
      contentType: out.ContentType ?? 'application/octet-stream',
      etag: out.ETag ?? '',
      lastModified: out.LastModified,
      metadata: out.Metadata ?? {}
    }
  }

  /** Whether an object is at `key` (a 404 is false; any other failure throws). */
  async exists (key: string): Promise<boolean> {
    try {
      await this.headObject(key)
      return true
    } catch (err) {
      if ((err as { code?: string }).code === 'NOT_FOUND') return false
      throw err
    }
  }

  async delete (key: string): Promise<void> {
    try {
      await this.bounded(key, async (abortSignal) => await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }))
    } catch (err) {
      throw toAppError(err, key)
    }
  }

  /** One DeleteObjects call (at most 1000 keys): what S3 deleted and what it refused, key by key. */
  async deleteMany (keys: string[]): Promise<DeleteOutcome> {
    try {
      const out = await this.bounded(`${keys.length} keys`, async (abortSignal) => await this.client.send(new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: false }
      }), { abortSignal }))
      return {
        deleted: (out.Deleted ?? []).map((d) => d.Key ?? ''),
        errors: (out.Errors ?? []).map((e) => ({ key: e.Key ?? '', code: e.Code ?? 'UnknownError', message: e.Message ?? '' }))
      }
    } catch (err) {
      throw toAppError(err, `${keys.length} keys`)
    }
  }

  /**
   * Copy `source` to `target` inside the bucket, server-side. Its metadata
   * and headers are kept; a `contentType` replaces the type and keeps the rest.
   */
  async copy (source: string, target: string, options: { contentType?: string | undefined } = {}): Promise<{ size: number, etag: string }> {
    const head = await this.headObject(source)
    const size = head.ContentLength ?? 0
    const replace = options.contentType !== undefined
    const kept = {
      ContentType: options.contentType ?? head.ContentType,
      Metadata: head.Metadata,
      CacheControl: head.CacheControl,
      ContentDisposition: head.ContentDisposition,
      ContentEncoding: head.ContentEncoding,
      ContentLanguage: head.ContentLanguage,
      Expires: head.Expires
    }
    const copySource = `${this.bucket}/${encodeKey(source)}`
    try {
      if (size <= this.singleCopyMax) {
        const etag = await this.copyWhole(copySource, target, {
          CopySourceIfMatch: head.ETag,
          ...(replace ? { MetadataDirective: 'REPLACE', ...kept } : { MetadataDirective: 'COPY' })
        })
        return { size, etag }
      }
      return await this.copyInParts(copySource, target, size, head.ETag, kept)
    } catch (err) {
      throw toAppError(err, `copy of ${source} to ${target}`)
    }
  }

  /**
   * The object at `target` becomes the first `length` bytes of `source`
   * (at least 5 MiB when a `tail` follows), then `tail`: a staged upload put
   * in place (staged.ts). All of `source` up to S3's single-copy limit is
   * one CopyObject, its headers kept; anything else a multipart upload of
   * UploadPartCopy parts — undefined when the store has no UploadPartCopy
   * (s3rver), before anything was written at `target`.
   */
  async place (source: string, target: string, options: { length: number, whole: boolean, contentType: string, tail?: Buffer | undefined }): Promise<{ etag: string } | undefined> {
    const copySource = `${this.bucket}/${encodeKey(source)}`
    const { length, whole, contentType, tail } = options
    try {
      if (whole && tail === undefined && length <= this.singleCopyMax) return { etag: await this.copyWhole(copySource, target, { MetadataDirective: 'COPY' }) }
      return await this.copyInParts(copySource, target, length, undefined, { ContentType: contentType }, tail)
    } catch (err) {
      if ((err as { name?: string }).name === 'NotImplemented') return undefined
      throw toAppError(err, target)
    }
  }

  /** one CopyObject of `copySource` to `target`, with `fields` (directive, conditions, headers): the copy's ETag */
  private async copyWhole (copySource: string, target: string, fields: Partial<CopyObjectCommandInput>): Promise<string> {
    const out = await this.bounded(target, async (abortSignal) => await this.client.send(new CopyObjectCommand({
      ...fields,
      Bucket: this.bucket,
      Key: target,
      CopySource: copySource
    }), { abortSignal }))
    return out.CopyObjectResult?.ETag ?? (await this.headObject(target)).ETag ?? ''
  }

  private async copyInParts (copySource: string, target: string, size: number, etag: string | undefined, kept: Record<string, unknown>, tail?: Buffer): Promise<{ size: number, etag: string }> {
    const partSize = Math.max(MIN_PART, Math.min(COPY_PART, this.singleCopyMax), Math.ceil(size / MAX_PARTS))
    let count = Math.ceil(size / partSize)
    // every part but the last is at least 5 MiB: with a tail after them, a short last copied part joins the one before
    if (tail !== undefined && count > 1 && size - (count - 1) * partSize < MIN_PART) count--
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: target, ...kept }))
    const uploadId = created.UploadId
    if (uploadId === undefined) throw new Error('CreateMultipartUpload answered without an UploadId')
    try {
      const parts: Array<{ PartNumber: number, ETag: string }> = []
      let next = 0
      let failed = false
      const worker = async (): Promise<void> => {
        while (next < count && !failed) {
          const index = next++
          const first = index * partSize
          // the last part runs to the end (joined with a short remainder when a tail follows)
          const last = index === count - 1 ? size - 1 : first + partSize - 1
          const out = await this.bounded(target, async (abortSignal) => await this.client.send(new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: target,
            UploadId: uploadId,
            PartNumber: index + 1,
            CopySource: copySource,
            CopySourceIfMatch: etag,
            CopySourceRange: `bytes=${first}-${last}`
          }), { abortSignal })).catch((err: unknown) => { failed = true; throw err })
          parts.push({ PartNumber: index + 1, ETag: out.CopyPartResult?.ETag ?? '' })
        }
      }
      await Promise.all(Array.from({ length: Math.min(PARTS_AT_ONCE, count) }, worker))
      if (tail !== undefined) {
        const out = await this.bounded(target, async (abortSignal) => await this.client.send(new UploadPartCommand({
          Bucket: this.bucket, Key: target, UploadId: uploadId, PartNumber: count + 1, Body: tail, ContentLength: tail.length
        }), { abortSignal }))
        parts.push({ PartNumber: count + 1, ETag: out.ETag ?? '' })
      }
      parts.sort((a, b) => a.PartNumber - b.PartNumber)
      const done = await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId: uploadId, MultipartUpload: { Parts: parts } }))
      // Ceph answers CompleteMultipartUpload with an empty ETag
      const final = done.ETag !== undefined && done.ETag !== '' ? done.ETag : (await this.headObject(target)).ETag ?? ''
      return { size, etag: final }
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId: uploadId })).catch(() => {})
      throw err
    }
  }
}

// Presigned uploads for browsers: Companion's S3 protocol under /s3/…, which
// Uppy's @uppy/aws-s3 plugin calls when its companionEndpoint is the gateway
// (API.md Part 2 "Large files"). The gateway picks and validates the key
// (s3_key / filename metadata, key rules, KEY_PREFIX, the caller's scope) on
// every call, checks the key's write and presign permissions (the auth hook
// and here), and keeps nothing: the upload id and key come back with each
// call, so another replica can sign the next part. The bytes go straight to
// S3; the total is held to the upload limit when the upload completes.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { objectKey, requirePermission, uploadLimit } from '../auth/scope.js'
import { AppError, invalidParameter, payloadTooLarge } from '../errors.js'
import { isMediaType } from '../http/headers.js'
import type { ObjectKey } from '../s3/keys.js'

/** S3's part numbers */
const MAX_PART = 10_000
/** S3's smallest part (all but the last) */
const MIN_PART_BYTES = 5 * 1024 * 1024

/** every part but the last has at least 5 MiB: an upload within the limit needs no higher part number */
function maxPartFor (request: FastifyRequest): number {
  return Math.min(MAX_PART, Math.max(1, Math.ceil(uploadLimit(request) / MIN_PART_BYTES)))
}

type Query = Record<string, string | undefined>

function text (value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined
}

/** Uppy sends metadata as `metadata[name]=` in a query, or `metadata: {}` in JSON */
function metadataOf (query: Query, body: Record<string, unknown> | undefined): Record<string, unknown> {
  const fromQuery = Object.fromEntries(Object.entries(query).flatMap(([k, v]) => {
    const name = /^metadata\[(.+)\]$/.exec(k)?.[1]
    return name !== undefined ? [[name, v]] : []
  }))
  const fromBody = body?.metadata !== null && typeof body?.metadata === 'object' ? body.metadata as Record<string, unknown> : {}
  return { ...fromQuery, ...fromBody }
}

/** The key the gateway picks for a new upload: the caller's s3_key metadata, else its filename */
function newKey (request: FastifyRequest, filename: unknown, metadata: Record<string, unknown>): ObjectKey {
  return objectKey(request, [text(metadata.s3_key), text(metadata.filename), text(filename)])
}

function contentTypeOf (type: unknown): string {
  const value = text(type)?.trim()
  return value !== undefined && isMediaType(value) ? value : 'application/octet-stream'
}

/** ?key= of the calls on an existing upload: the key as the caller names it, placed under its scope again */
function uploadKey (request: FastifyRequest): ObjectKey {
  const key = text((request.query as Query).key)
  if (key === undefined) throw new AppError('MISSING_KEY', 'Missing required parameter: key (the key the upload was created with)')
  return objectKey(request, [key])
}

function uploadIdOf (request: FastifyRequest): string {
  const id = (request.params as { uploadId?: string }).uploadId ?? ''
  if (!/^[\w.~+/=-]{1,1024}$/.test(id)) throw invalidParameter('uploadId is not an upload id')
  return id
}

function partNumber (value: unknown, max = MAX_PART): number {
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : typeof value === 'number' ? value : NaN
  if (!Number.isInteger(n) || n < 1 || n > max) throw invalidParameter(`part numbers are 1 to ${max} here (the upload limit in parts of 5 MiB; got ${JSON.stringify(value)})`)
  return n
}

function notFound (err: unknown): never {
  if (err instanceof AppError && err.code === 'NOT_FOUND') throw new AppError('NOT_FOUND', 'No such multipart upload for this key (completed, aborted, or never created)', { cause: err })
  throw err
}

export default async function companionRoutes (app: FastifyInstance): Promise<void> {
  const config = { permission: 'write' as const, tool: 'presigned uploads (/s3)' }
  const { store } = app
  const expiresIn = app.config.presignDefaultExpiry
  const signing = (request: FastifyRequest): void => { requirePermission(request, 'presign', 'sign uploads for a browser') }

  // one object in one POST form, held to the caller's upload limit
  app.get('/s3/params', { config }, async (request) => {
    signing(request)
    const query = request.query as Query
    const key = newKey(request, query.filename, metadataOf(query, undefined))
    const type = text(query.type)
    const post = store.direct.presignPost(key.storedKey, { expiresIn, maxBytes: uploadLimit(request), contentType: type !== undefined ? contentTypeOf(type) : undefined })
    return { method: 'POST', url: post.url, fields: post.fields, expires: expiresIn }
  })

  app.post('/s3/multipart', { config }, async (request) => {
    signing(request)
    const body = (request.body ?? {}) as Record<string, unknown>
    const key = newKey(request, body.filename, metadataOf(request.query as Query, body))
    const uploadId = await store.direct.createMultipart(key.storedKey, contentTypeOf(body.type))
    return { key: key.key, uploadId }
  })

  app.get('/s3/multipart/:uploadId', { config }, async (request) => {
    signing(request)
    const key = uploadKey(request)
    return await store.direct.listParts(key.storedKey, uploadIdOf(request)).catch(notFound)
  })

  app.get('/s3/multipart/:uploadId/batch', { config }, async (request) => {
    signing(request)
    const key = uploadKey(request)
    const uploadId = uploadIdOf(request)
    const max = maxPartFor(request)
    const numbers = (text((request.query as Query).partNumbers) ?? '').split(',').filter((n) => n !== '').map((n) => partNumber(n, max))
    if (numbers.length === 0 || numbers.length > 1000) throw invalidParameter('partNumbers must list 1 to 1000 part numbers, comma separated')
    const urls = await Promise.all(numbers.map(async (n) => [String(n), await store.direct.presignPart(key.storedKey, uploadId, n, expiresIn)] as const))
    return { presignedUrls: Object.fromEntries(urls) }
  })

  app.get('/s3/multipart/:uploadId/:partNumber', { config }, async (request) => {
    signing(request)
    const key = uploadKey(request)
    const n = partNumber((request.params as { partNumber?: string }).partNumber, maxPartFor(request))
    return { url: await store.direct.presignPart(key.storedKey, uploadIdOf(request), n, expiresIn), expires: expiresIn }
  })

  app.post('/s3/multipart/:uploadId/complete', { config }, async (request) => {
    signing(request)
    const key = uploadKey(request)
    const uploadId = uploadIdOf(request)
    const given = ((request.body ?? {}) as { parts?: unknown }).parts
    if (!Array.isArray(given) || given.length === 0 || given.length > MAX_PART) throw invalidParameter('parts must list the uploaded parts as {PartNumber, ETag}')
    const parts = given.map((p: { PartNumber?: unknown, ETag?: unknown }) => {
      if (typeof p?.ETag !== 'string' || p.ETag === '') throw invalidParameter('every part needs its ETag')
      return { PartNumber: partNumber(p.PartNumber), ETag: p.ETag }
    })
    // the bytes went to S3 without the gateway: the total is checked before it becomes an object
    const uploaded = await store.direct.listParts(key.storedKey, uploadId).catch(notFound)
    const total = uploaded.filter((p) => parts.some((q) => q.PartNumber === p.PartNumber)).reduce((sum, p) => sum + p.Size, 0)
    const limit = uploadLimit(request)
    if (total > limit) {
      await store.direct.abort(key.storedKey, uploadId).catch(() => {})
      throw payloadTooLarge(limit, `upload (${total} bytes in its parts; it was aborted)`)
    }
    await store.direct.complete(key.storedKey, uploadId, parts).catch(notFound)
    return { location: store.direct.objectUrl(key.storedKey), bucket: store.bucket, key: key.key }
  })

  app.delete('/s3/multipart/:uploadId', { config }, async (request) => {
    signing(request)
    const key = uploadKey(request)
    await store.direct.abort(key.storedKey, uploadIdOf(request)).catch(notFound)
    return {}
  })
}

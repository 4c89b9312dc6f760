// s3_download_file — GET / HEAD / POST /download/file: the object's bytes,
// streamed, with validators, ranges and conditional requests, and
// `Content-Disposition: attachment` so that Dify's HTTP node makes it a file.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { objectKey, presignExpiry } from '../auth/scope.js'
import { AppError } from '../errors.js'
import { attachmentDisposition, evaluatePreconditions, httpDate, singleByteRange, type Conditions } from '../http/headers.js'
import { Params } from '../params.js'
import type { ObjectKey } from '../s3/keys.js'
import type { ObjectInfo } from '../s3/store.js'
import { COMMON_ERRORS, KEY_PARAMS, MAX_BYTES_PARAM, PRESIGN_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { maxBytesOf, tooLargeAnswer } from './too-large.js'

/** Dify's HTTP Request node fails on binary answers above 10 MiB (DIFY.md §1) */
export const DIFY_FILE_LIMIT = 10 * 1024 * 1024

interface DownloadTarget {
  key: ObjectKey
  /** headers announcing a presigned URL, when asked for */
  presignHeaders: Record<string, string>
  params: Params
}

export default defineTool({
  name: 's3_download_file',
  summary: 'Download an object from S3 as a file',
  description: 'Answer the object\'s bytes as a file (Content-Disposition: attachment). The key comes from s3_key, else filename. ' +
    'An object larger than max_bytes is not sent: the answer is then JSON with too_large: true, its size and a presigned_url that downloads it from S3 directly — hand that URL on instead.',
  tag: 'download',
  permission: 'read',
  annotations: { readOnly: true, destructive: false, idempotent: true },
  params: {
    ...KEY_PARAMS,
    max_bytes: MAX_BYTES_PARAM(DIFY_FILE_LIMIT, 'object (bytes)'),
    ...PRESIGN_PARAMS,
    // its URL comes in a response header, which a custom tool never sees: max_bytes is the tool's way
    generate_presigned_url: { ...PRESIGN_PARAMS.generate_presigned_url!, hidden: true, description: 'Also send a presigned GET URL in the X-Presigned-Url response header (true/false).' }
  },
  openapi: { method: 'get', path: '/download/file', body: 'query', required: [], answer: { status: 200, description: 'The object, or (above max_bytes) the too_large JSON.', schema: 'binary' }, errors: [...COMMON_ERRORS, 404, 412, 416] },
  routes: (app) => {
    const query = (request: FastifyRequest): Record<string, unknown> => request.query as Record<string, unknown>
    return [
      {
        method: 'GET',
        path: '/download/file',
        params: 'query',
        handler: async (request, reply) => await download(request, reply, await target(request, new Params(query(request))))
      },
      {
        method: 'POST',
        path: '/download/file',
        params: 'body',
        handler: async (request, reply) =>
          await download(request, reply, await target(request, new Params(request.body as Record<string, unknown>, query(request))))
      },
      {
        // written out: Fastify's automatic HEAD would run GET and drain the object
        method: 'HEAD',
        path: '/download/file',
        params: 'query',
        handler: async (request, reply) => {
          const { key, presignHeaders } = await target(request, new Params(query(request)))
          const info = await app.store.head(key.storedKey)
          const status = evaluatePreconditions(info, conditions(request))
          if (status === 412) throw preconditionFailed()
          reply.headers(presignHeaders)
          if (status === 304) return await notModified(reply, info)
          return await reply.code(200).headers(objectHeaders(key.key, info)).header('content-length', String(info.size)).send()
        }
      }
    ]
  }
})

async function download (request: FastifyRequest, reply: FastifyReply, { key, presignHeaders, params }: DownloadTarget): Promise<unknown> {
  const app = request.server
  const maxBytes = maxBytesOf(params)
  const given = conditions(request)
  const range = singleByteRange(request.headers.range)
  // the service evaluates every condition itself (headers.ts) and sends S3 only
  // the ETag it checked, so that the object cannot change in between
  let result
  for (let attempt = 1; ; attempt++) {
    let checked: string | undefined
    if (Object.values(given).some((v) => v !== undefined)) {
      const info = await app.store.head(key.storedKey)
      const status = evaluatePreconditions(info, given)
      if (status === 412) throw preconditionFailed()
      if (status === 304) {
        reply.headers(presignHeaders)
        return await notModified(reply, info)
      }
      checked = info.etag
    }
    try {
      result = await app.store.read(key.storedKey, { ifMatch: checked, range })
      break
    } catch (err) {
      // replaced between HEAD and GET: evaluate again against the new object
      if (checked === undefined || attempt >= 3 || !(err instanceof AppError) || err.code !== 'PRECONDITION_FAILED') throw err
    }
  }
  reply.headers(presignHeaders)
  if (maxBytes !== undefined && result.contentLength > maxBytes) {
    result.body.destroy()
    return await reply.code(200).send(await tooLargeAnswer(request, params, key, result.info, maxBytes))
  }
  reply.headers(objectHeaders(key.key, result.info)).header('content-length', String(result.contentLength))
  if (result.contentRange !== undefined) reply.header('content-range', result.contentRange)
  return await reply.code(result.status).send(result.body)
}

async function target (request: FastifyRequest, params: Params): Promise<DownloadTarget> {
  const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
  const expiry = presignExpiry(request, params)
  const presignHeaders: Record<string, string> = expiry === undefined
    ? {}
    : { 'x-presigned-url': await request.server.store.presign(key.storedKey, 'GET', expiry), 'x-presigned-expires-in': String(expiry) }
  return { key, presignHeaders, params }
}

function preconditionFailed (): AppError {
  return new AppError('PRECONDITION_FAILED', 'A precondition (If-Match / If-Unmodified-Since) failed')
}

/** The conditional headers; evaluatePreconditions applies RFC 9110 §13.2.2's order (an entity-tag condition wins over its date twin). */
function conditions (request: FastifyRequest): Conditions {
  const h = request.headers
  return {
    ifMatch: h['if-match'],
    ifNoneMatch: h['if-none-match'],
    ifModifiedSince: httpDate(h['if-modified-since']),
    ifUnmodifiedSince: httpDate(h['if-unmodified-since'])
  }
}

function validators (info: ObjectInfo): Record<string, string> {
  return {
    etag: info.etag,
    ...(info.lastModified !== undefined ? { 'last-modified': info.lastModified.toUTCString() } : {})
  }
}

function objectHeaders (key: string, info: ObjectInfo): Record<string, string> {
  return {
    ...validators(info),
    'accept-ranges': 'bytes',
    'content-type': info.contentType,
    'content-disposition': attachmentDisposition(key)
  }
}

async function notModified (reply: FastifyReply, info: ObjectInfo): Promise<unknown> {
  return await reply.code(304).headers(validators(info)).send()
}

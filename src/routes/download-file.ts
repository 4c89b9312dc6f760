// s3_download_file — GET / HEAD / POST /download/file: the object's bytes,
// streamed, with validators, ranges and conditional requests, and
// `Content-Disposition: attachment` so that Dify's HTTP node makes it a file.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ToolModule } from './tool-routes.js'
import { AppError } from '../errors.js'
import { attachmentDisposition, evaluatePreconditions, httpDate, singleByteRange } from '../http/headers.js'
import { Params } from '../params.js'
import { resolveObjectKey, type ObjectKey } from '../s3/keys.js'
import type { Conditions, ObjectInfo } from '../s3/store.js'
import { DownloadQuery } from '../schemas/common.js'

interface DownloadTarget {
  key: ObjectKey
  /** headers announcing a presigned URL, when asked for */
  presignHeaders: Record<string, string>
}

const downloadFile: ToolModule = {
  name: 's3_download_file',
  routes: (app) => {
    const schema = { querystring: DownloadQuery }
    const query = (request: FastifyRequest): Record<string, unknown> => request.query as Record<string, unknown>
    return [
      {
        method: 'GET',
        path: '/download/file',
        options: { schema },
        handler: async (request, reply) => await download(request, reply, await target(app, new Params(query(request))))
      },
      {
        method: 'POST',
        path: '/download/file',
        options: { schema: { ...schema, body: DownloadQuery } },
        handler: async (request, reply) =>
          await download(request, reply, await target(app, new Params(request.body as Record<string, unknown>, query(request))))
      },
      {
        // written out: Fastify's automatic HEAD would run GET and drain the object
        method: 'HEAD',
        path: '/download/file',
        options: { schema },
        handler: async (request, reply) => {
          const { key, presignHeaders } = await target(app, new Params(query(request)))
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
}
export default downloadFile

async function download (request: FastifyRequest, reply: FastifyReply, { key, presignHeaders }: DownloadTarget): Promise<unknown> {
  const app = request.server
  const given = conditions(request)
  // S3 evaluates the conditions too, but not every S3-compatible server does
  // If-Match / If-Unmodified-Since (s3rver ignores them): check those here
  if (given.ifMatch !== undefined || given.ifUnmodifiedSince !== undefined) {
    const info = await app.store.head(key.storedKey)
    if (evaluatePreconditions(info, { ifMatch: given.ifMatch, ifUnmodifiedSince: given.ifUnmodifiedSince }) === 412) throw preconditionFailed()
  }
  const result = await app.store.read(key.storedKey, { ...given, range: singleByteRange(request.headers.range) })
  reply.headers(presignHeaders)
  if (result.status === 304) return await notModified(reply, result.info)
  reply.headers(objectHeaders(key.key, result.info)).header('content-length', String(result.contentLength))
  if (result.contentRange !== undefined) reply.header('content-range', result.contentRange)
  return await reply.code(result.status).send(result.body)
}

async function target (app: FastifyInstance, params: Params): Promise<DownloadTarget> {
  const key = resolveObjectKey([params.string('s3_key'), params.string('filename')], app.config.keyPrefix)
  const expiry = params.presign(app.config.presignDefaultExpiry, app.config.presignMaxExpiry)
  const presignHeaders: Record<string, string> = expiry === undefined
    ? {}
    : { 'x-presigned-url': await app.store.presign(key.storedKey, 'GET', expiry), 'x-presigned-expires-in': String(expiry) }
  return { key, presignHeaders }
}

function preconditionFailed (): AppError {
  return new AppError('PRECONDITION_FAILED', 'A precondition (If-Match / If-Unmodified-Since) failed')
}

/** Conditional headers as S3 takes them; RFC 9110 §13.2.2: an entity-tag condition wins over its date twin. */
function conditions (request: FastifyRequest): Conditions {
  const h = request.headers
  return {
    ifMatch: h['if-match'],
    ifNoneMatch: h['if-none-match'],
    ifModifiedSince: h['if-none-match'] === undefined ? httpDate(h['if-modified-since']) : undefined,
    ifUnmodifiedSince: h['if-match'] === undefined ? httpDate(h['if-unmodified-since']) : undefined
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

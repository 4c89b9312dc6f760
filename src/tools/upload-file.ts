// s3_upload_file — POST /upload/file. The body is the file: multipart/form-data
// (its file part streams to S3 as it arrives), or any raw body (Dify's HTTP node
// "binary", curl -T / --data-binary), of known or unknown length; or JSON
// {file_url} / {file: {url}}, fetched as s3_upload_from_url does.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import multipart from '@fastify/multipart'
import { objectKey, presignExpiry, uploadLimit } from '../auth/scope.js'
import { AppError, payloadTooLarge } from '../errors.js'
import { storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { ingest, type Stored } from '../transfer/ingest.js'
import { COMMON_ERRORS, UPLOAD_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { uploadAnswer } from './upload-answer.js'
import { urlUpload } from './upload-url.js'

/** room for multipart framing and the fields sent beside the file */
const MULTIPART_OVERHEAD = 1024 * 1024
const FIELD_MAX_BYTES = 64 * 1024
/** Dify's HTTP node adds this empty part when no file variable resolved */
const PLACEHOLDER_PART = '__multipart_placeholder__'

interface UploadRequest {
  params: Params
  request: FastifyRequest
}

export default defineTool({
  name: 's3_upload_file',
  summary: 'Upload a file to S3',
  description: 'Store the given file in the bucket and answer its key, size, ETag, content type and SHA-256. ' +
    'The key comes from s3_key, else filename, else the file\'s own name; it must not contain control characters or "." / ".." path segments.',
  tag: 'upload',
  permission: 'write',
  annotations: { readOnly: false, destructive: true, idempotent: true },
  params: {
    ...UPLOAD_PARAMS,
    file: { type: 'file', description: 'The file to upload.', example: '(a file)' }
  },
  mcp: false,
  openapi: { method: 'post', path: '/upload/file', body: 'multipart', required: ['file'], answer: { status: 201, description: 'Stored.', schema: 'UploadResult' }, errors: [...COMMON_ERRORS, 413] },
  setup: async (scope) => {
    // This scope parses nothing itself: a raw body stays a stream for the handler.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, scope.getDefaultJsonParser('error', 'error'))
    scope.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
    await scope.register(multipart, {
      limits: {
        // above the upload limit: @fastify/multipart silently truncates at fileSize,
        // so the UploadGuard must be the one that trips (and fails the upload)
        fileSize: scope.config.maxUploadBytes + 1,
        fieldSize: FIELD_MAX_BYTES,
        fields: 64,
        files: 16,
        parts: 128,
        headerPairs: 64
      }
    })
  },
  routes: (app) => [{
    method: 'POST',
    path: '/upload/file',
    params: 'query',
    options: {
      config: { maxBodyBytes: app.config.maxUploadBytes + MULTIPART_OVERHEAD }
    },
    handler: async (request, reply) => {
      const query = request.query as Record<string, unknown>
      if (request.isMultipart()) return await multipartUpload(app, request, reply, query)
      // JSON on this route means URL ingestion ({file_url} / {file: {url}}), as on /upload/url
      if (request.body !== undefined) return await urlUpload(app, request, reply)
      return await rawUpload(app, { params: new Params(query), request }, reply)
    }
  }]
})

function hasBody (request: FastifyRequest): boolean {
  const { headers } = request
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0') ||
    headers['content-type'] !== undefined
}

async function rawUpload (app: FastifyInstance, { params, request }: UploadRequest, reply: FastifyReply): Promise<unknown> {
  const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
  const sha256 = params.sha256()
  const expiry = presignExpiry(request, params)
  const maxBytes = uploadLimit(request)
  if (!hasBody(request)) throw new AppError('MISSING_FILE', 'No file: send the file as the request body (raw) or as the "file" part of multipart/form-data')
  const contentType = storedContentType(params.contentType(), request.headers['content-type'], key.key)
  // without Transfer-Encoding the length is Content-Length, or 0 when absent (RFC 9112 §6.3)
  const size = request.headers['transfer-encoding'] !== undefined ? undefined : Number(request.headers['content-length'] ?? 0)
  if (size !== undefined && size > maxBytes) throw payloadTooLarge(maxBytes)
  const stored = await ingest({
    store: app.store,
    storedKey: key.storedKey,
    source: request.raw,
    request: request.raw,
    size,
    contentType,
    maxBytes,
    sha256
  })
  return await reply.code(201).send(await uploadAnswer(app, key, stored, expiry))
}

async function multipartUpload (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, query: Record<string, unknown>): Promise<unknown> {
  // fields that shape the upload come before the file part; later ones are ignored
  const fields: Record<string, string> = {}
  let answer: Awaited<ReturnType<typeof uploadAnswer>> | undefined
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      if (part.valueTruncated) throw new AppError('PAYLOAD_TOO_LARGE', `The field ${part.fieldname} is longer than ${FIELD_MAX_BYTES} bytes`)
      if (answer === undefined && !(part.fieldname in fields) && typeof part.value === 'string') fields[part.fieldname] = part.value
      continue
    }
    if (answer !== undefined || part.fieldname === PLACEHOLDER_PART) {
      part.file.resume()
      continue
    }
    const params = new Params(fields, query)
    const key = objectKey(request, [params.string('s3_key'), params.string('filename'), part.filename])
    const sha256 = params.sha256()
    const expiry = presignExpiry(request, params)
    const contentType = storedContentType(params.contentType(), part.mimetype, key.key)
    const stored: Stored = await ingest({
      store: app.store,
      storedKey: key.storedKey,
      source: part.file,
      request: request.raw,
      contentType,
      maxBytes: uploadLimit(request),
      sha256
    })
    answer = await uploadAnswer(app, key, stored, expiry)
  }
  if (answer === undefined) {
    const hint = 'file' in fields ? ' (the "file" part came as a text field: send it as a file, e.g. curl -F file=@path)' : ''
    throw new AppError('MISSING_FILE', `No file part in the multipart body${hint}`)
  }
  return await reply.code(201).send(answer)
}

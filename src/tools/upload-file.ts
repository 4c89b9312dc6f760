// s3_upload_file — POST /upload/file. The body is the file: multipart/form-data
// (its file part streams to S3 as it arrives), or any raw body (Dify's HTTP node
// "binary", curl -T / --data-binary), of known or unknown length; or JSON
// {file_url} / {file: {url}}, fetched as s3_upload_from_url does.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { objectKey, presignExpiry, uploadLimit } from '../auth/scope.js'
import { AppError, payloadTooLarge } from '../errors.js'
import { storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { ingest } from '../transfer/ingest.js'
import { inFolder, MULTIPART_OVERHEAD, storeFormFiles, uploadScope } from './form-files.js'
import { COMMON_ERRORS, UPLOAD_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { uploadAnswer } from './upload-answer.js'
import { urlUpload } from './upload-url.js'

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
    prefix: { type: 'string', description: 'A folder: with several file parts, each is stored as <prefix>/<its filename> (an s3_key ending in "/" does the same).', hidden: true },
    file: { type: 'file', description: 'The file to upload.', example: '(a file)' }
  },
  mcp: false,
  openapi: { method: 'post', path: '/upload/file', body: 'multipart', required: ['file'], answer: { status: 201, description: 'Stored.', schema: 'UploadResult' }, errors: [...COMMON_ERRORS, 413] },
  setup: uploadScope,
  routes: (app) => [{
    method: 'POST',
    path: '/upload/file',
    params: 'query',
    options: {
      config: { maxBodyBytes: app.config.maxUploadBytes + MULTIPART_OVERHEAD }
    },
    handler: async (request, reply) => {
      const query = request.query as Record<string, unknown>
      if (request.isMultipart()) return await multipartUpload(request, reply, query)
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

async function multipartUpload (request: FastifyRequest, reply: FastifyReply, query: Record<string, unknown>): Promise<unknown> {
  const form = await storeFormFiles(request, query, {
    // the folder of prefix, or of an s3_key ending in "/", takes every part; a key naming one object, the first part only
    keyFor: (params, part, index) => {
      const s3Key = params.string('s3_key')
      const folder = params.string('prefix') ?? (s3Key?.endsWith('/') === true ? s3Key : undefined)
      if (folder !== undefined) return objectKey(request, [inFolder(folder, part)])
      if (index === 0) return objectKey(request, [s3Key, params.string('filename'), part.filename])
      throw new AppError('AMBIGUOUS_KEY', 'Not stored: the key names one object and this is a later file part; give a folder (prefix, or an s3_key ending in "/") to store every part, or use /upload/files')
    },
    singleFileParams: (index) => index === 0,
    firstFailureThrows: true
  })
  const [first, ...later] = form.files
  if (first === undefined) {
    const hint = 'file' in form.fields ? ' (the "file" part came as a text field: send it as a file, e.g. curl -F file=@path)' : ''
    throw new AppError('MISSING_FILE', `No file part in the multipart body${hint}`)
  }
  // one part: the answer as it always was; several: the first file's answer, and every file's
  const several = form.parts > 1 || form.failed.length > 0
  return await reply.code(201).send(several ? { ...first, files: [first, ...later], failed: form.failed } : first)
}

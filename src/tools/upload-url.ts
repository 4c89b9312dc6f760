// s3_upload_from_url — POST /upload/url, and JSON bodies on POST /upload/file:
// fetch {file_url} or a Dify file object {file: {url, filename?, mime_type?}}
// and stream it into S3 (DIFY.md §3). The fetch is held to the SSRF policy in
// src/dify/file-url.ts; an upstream failure stores nothing.
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import { isMediaType, storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { objectKey, presignExpiry, uploadLimit } from '../auth/scope.js'
import { discard, resolveFileUrl } from '../dify/file-url.js'
import { DifyFileObject } from '../schemas/common.js'
import { ingest } from '../transfer/ingest.js'
import { COMMON_ERRORS, UPLOAD_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { uploadAnswer } from './upload-answer.js'

interface FileRef {
  url: string
  filename: string | undefined
  mimeType: string | undefined
}

function text (value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined
}

/** file_url wins over the file object; a string `file` is taken as its URL. */
function fileRef (params: Params, body: Record<string, unknown>): FileRef {
  const url = params.string('file_url')
  const file = body.file
  const object = file !== null && typeof file === 'object' && !Array.isArray(file) ? file as Record<string, unknown> : undefined
  const filename = text(object?.filename)
  const mimeType = text(object?.mime_type)
  const found = url ?? text(object?.url) ?? text(file)
  if (found === undefined) {
    throw new AppError('MISSING_FILE', 'Missing required parameter: file_url (or a Dify file object {"file": {"url": ...}})')
  }
  return { url: found, filename, mimeType: mimeType !== undefined && isMediaType(mimeType) ? mimeType : undefined }
}

export async function urlUpload (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { config } = app
  const maxBytes = uploadLimit(request)
  const body = (request.body ?? {}) as Record<string, unknown>
  const params = new Params(body, request.query as Record<string, unknown>)
  const ref = fileRef(params, body)
  // every parameter is checked before anything is fetched
  const named = [params.string('s3_key'), params.string('filename'), ref.filename]
  const early = named.some((k) => k !== undefined) ? objectKey(request, named) : undefined
  const sha256 = params.sha256()
  const expiry = presignExpiry(request, params)
  const explicitType = params.contentType() ?? ref.mimeType
  const url = resolveFileUrl(ref.url, config.fileUrl)

  const fetched = await app.fileFetcher.open(url, maxBytes)
  try {
    const key = early ?? objectKey(request, [fetched.filename])
    const contentType = storedContentType(explicitType, fetched.contentType, key.key)
    const stored = await ingest({
      store: app.store,
      storedKey: key.storedKey,
      source: fetched.body,
      request: request.raw,
      size: fetched.size,
      contentType,
      maxBytes,
      sha256,
      sourceFailure: fetched.failure
    })
    return await reply.code(201).send(await uploadAnswer(app, key, stored, expiry))
  } finally {
    // whatever happened, nothing more is read from the upstream
    discard(fetched.body)
  }
}

export default defineTool({
  name: 's3_upload_from_url',
  summary: 'Upload a file to S3 from a URL',
  description: 'Fetch file_url (a Dify file URL, or an http(s) URL from an origin the gateway allows) and store it in the bucket, streamed. ' +
    'The key comes from s3_key, else filename, else the name the file\'s server gives; it must not contain control characters or "." / ".." path segments. ' +
    'Answers the key, size, ETag, content type and SHA-256.',
  tag: 'upload',
  permission: 'write',
  annotations: { readOnly: false, destructive: true, idempotent: true },
  params: {
    file_url: { type: 'string', description: 'URL of the file to store: an absolute http(s) URL from an allowed origin, or a Dify file URL such as /files/<id>/file-preview?... (resolved against the gateway\'s DIFY_ENDPOINT).', example: '/files/3f1c9a52-2b7e-4f0e-9d55-0c1e7a2b9f10/file-preview?timestamp=1767225600&nonce=4b1e&sign=…' },
    // Dify sends "" for a blank optional field; a string is taken as the URL
    file: { type: 'object', hidden: true, description: 'A Dify file object {url, filename?, mime_type?}, used when file_url is absent.', schema: Type.Union([DifyFileObject, Type.String()], { description: 'A Dify file object {url, filename?, mime_type?}, used when file_url is absent.' }) },
    ...UPLOAD_PARAMS
  },
  openapi: { method: 'post', path: '/upload/url', body: 'json', required: ['file_url'], answer: { status: 201, description: 'Stored.', schema: 'UploadResult' }, errors: [...COMMON_ERRORS, 413] },
  routes: (app) => [{
    method: 'POST',
    path: '/upload/url',
    params: 'body',
    handler: async (request, reply) => await urlUpload(app, request, reply)
  }]
})

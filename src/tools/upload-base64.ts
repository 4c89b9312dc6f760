// s3_upload_base64 — POST /upload/base64: JSON {file_base64}, decoded strictly.
import { objectKey, presignExpiry, uploadLimit } from '../auth/scope.js'
import { AppError } from '../errors.js'
import { storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { decodeBase64Strict, encodedLength } from '../transfer/base64.js'
import { storeBuffer } from '../transfer/ingest.js'
import { COMMON_ERRORS, UPLOAD_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { uploadAnswer } from './upload-answer.js'

export default defineTool({
  name: 's3_upload_base64',
  summary: 'Upload base64 content to S3',
  description: 'Decode file_base64 and store it in the bucket. The key comes from s3_key, else filename; it must not contain control characters or "." / ".." path segments. ' +
    'Answers the key, size, ETag, content type and SHA-256. For large files upload from a URL instead.',
  tag: 'upload',
  permission: 'write',
  annotations: { readOnly: false, destructive: true, idempotent: true },
  params: {
    file_base64: { type: 'string', description: 'The file content as base64; a "data:<mime>;base64," prefix is accepted.', example: 'SGVsbG8sIFMzIQ==' },
    ...UPLOAD_PARAMS
  },
  openapi: { method: 'post', path: '/upload/base64', body: 'json', required: ['file_base64'], answer: { status: 201, description: 'Stored.', schema: 'UploadResult' }, errors: [...COMMON_ERRORS, 413] },
  routes: (app) => [{
    method: 'POST',
    path: '/upload/base64',
    params: 'body',
    options: {
      // the JSON text holds the base64 (4/3 of the bytes) plus line breaks and fields
      bodyLimit: Math.ceil(encodedLength(app.config.base64MaxBytes) * 1.05) + 1024 * 1024
    },
    handler: async (request, reply) => {
      const { config } = app
      const params = new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)
      const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
      const sha256 = params.sha256()
      const expiry = presignExpiry(request, params)
      const text = params.string('file_base64')
      if (text === undefined) throw new AppError('MISSING_FILE', 'Missing required parameter: file_base64')
      const { data, mimeType } = decodeBase64Strict(text, Math.min(config.base64MaxBytes, uploadLimit(request)))
      const contentType = storedContentType(params.contentType(), mimeType, key.key)
      const stored = await storeBuffer(app.store, key.storedKey, data, contentType, sha256)
      return await reply.code(201).send(await uploadAnswer(app, key, stored, expiry))
    }
  }]
})

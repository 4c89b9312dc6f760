// s3_upload_files — POST /upload/files: a multipart form with any number of
// file parts (Dify's array[file] variables send one part each, all named
// after the variable). Each file streams to prefix + its filename, or to the
// s3_keys given in order; one bad file fails alone (form-files.ts).
import type { FastifyReply, FastifyRequest } from 'fastify'
import { objectKey } from '../auth/scope.js'
import { AppError } from '../errors.js'
import { inFolder, MULTIPART_OVERHEAD, storeFormFiles, uploadScope } from './form-files.js'
import { COMMON_ERRORS, PRESIGN_PARAMS } from './params.js'
import { defineTool } from './registry.js'

export default defineTool({
  name: 's3_upload_files',
  summary: 'Upload several files to S3',
  description: 'Store every file of the form in the bucket: each under prefix (a folder) with its own filename, or under the keys of s3_keys in order. ' +
    'Answers files (each one\'s key, size, ETag, content type and SHA-256) and failed (each file that was not stored, with its code); a file that failed leaves nothing.',
  tag: 'upload',
  permission: 'write',
  annotations: { readOnly: false, destructive: true, idempotent: true },
  mcp: false,
  params: {
    prefix: { type: 'string', description: 'A folder for the files, e.g. "inbox/2025/": each is stored as <prefix>/<its filename>.', example: 'inbox/2025/' },
    s3_keys: { type: 'string_list', description: 'The keys of the files in order, instead of prefix + filename: a JSON array or a comma-separated list.', example: '["in/a.pdf", "in/b.pdf"]' },
    ...PRESIGN_PARAMS,
    files: { type: 'files', description: 'The files to upload (one form part each).', example: '(files)' }
  },
  openapi: { method: 'post', path: '/upload/files', body: 'multipart', required: ['files'], answer: { status: 201, description: 'Stored, file by file.', schema: 'UploadFilesResult' }, errors: [...COMMON_ERRORS, 413] },
  setup: uploadScope,
  routes: (app) => [{
    method: 'POST',
    path: '/upload/files',
    params: 'query',
    options: { config: { maxBodyBytes: app.config.maxUploadBytes + MULTIPART_OVERHEAD } },
    handler: async (request, reply) => await uploadFiles(request, reply)
  }]
})

async function uploadFiles (request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  if (!request.isMultipart()) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'POST /upload/files takes multipart/form-data with one part per file')
  let keys: string[] | undefined
  const form = await storeFormFiles(request, request.query as Record<string, unknown>, {
    keyFor: (params, part, index) => {
      // read once, from the fields before the first file: a bad list fails the request
      if (index === 0) keys = params.stringList('s3_keys')
      if (keys !== undefined) {
        const key = keys[index]
        if (key === undefined) throw new AppError('MISSING_KEY', `s3_keys names ${keys.length} key(s); this is file part ${index + 1}`)
        return objectKey(request, [key])
      }
      const name = inFolder(params.string('prefix') ?? '', part)
      if (name === undefined) throw new AppError('MISSING_KEY', 'This file part has no filename: name it, or give s3_keys')
      return objectKey(request, [name])
    },
    singleFileParams: () => false,
    firstFailureThrows: false
  })
  if (form.parts === 0 && form.failed.length === 0) throw new AppError('MISSING_FILE', 'No file part in the multipart body')
  return await reply.code(201).send({ bucket: request.server.store.bucket, files: form.files, failed: form.failed })
}

// s3_upload_from_url — POST /upload/url, and JSON bodies on POST /upload/file:
// fetch {file_url} or a Dify file object {file: {url, filename?, mime_type?}}
// and stream it into S3 (DIFY.md §3). The fetch is held to the SSRF policy in
// src/dify/file-url.ts; an upstream failure stores nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import { isMediaType, storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { discard, resolveFileUrl } from '../dify/file-url.js'
import { resolveObjectKey } from '../s3/keys.js'
import { UploadQuery, UrlUploadBody } from '../schemas/common.js'
import { ingest } from '../transfer/ingest.js'
import type { ToolModule } from './tool-routes.js'
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
  const body = (request.body ?? {}) as Record<string, unknown>
  const params = new Params(body, request.query as Record<string, unknown>)
  const ref = fileRef(params, body)
  // every parameter is checked before anything is fetched
  const named = [params.string('s3_key'), params.string('filename'), ref.filename]
  const early = named.some((k) => k !== undefined) ? resolveObjectKey(named, config.keyPrefix) : undefined
  const sha256 = params.sha256()
  const presignExpiry = params.presign(config.presignDefaultExpiry, config.presignMaxExpiry)
  const explicitType = params.contentType() ?? ref.mimeType
  const url = resolveFileUrl(ref.url, config.fileUrl)

  const fetched = await app.fileFetcher.open(url, config.maxUploadBytes)
  try {
    const key = early ?? resolveObjectKey([fetched.filename], config.keyPrefix)
    const contentType = storedContentType(explicitType, fetched.contentType, key.key)
    const stored = await ingest({
      store: app.store,
      storedKey: key.storedKey,
      source: fetched.body,
      request: request.raw,
      size: fetched.size,
      contentType,
      maxBytes: config.maxUploadBytes,
      sha256,
      sourceFailure: fetched.failure
    })
    return await reply.code(201).send(await uploadAnswer(app, key, stored, contentType, presignExpiry))
  } finally {
    // whatever happened, nothing more is read from the upstream
    discard(fetched.body)
  }
}

const uploadUrl: ToolModule = {
  name: 's3_upload_from_url',
  routes: (app) => [{
    method: 'POST',
    path: '/upload/url',
    options: { schema: { querystring: UploadQuery, body: UrlUploadBody } },
    handler: async (request, reply) => await urlUpload(app, request, reply)
  }]
}
export default uploadUrl

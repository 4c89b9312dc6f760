// s3_presign — POST /presign: a GET or PUT URL signed for S3_PUBLIC_ENDPOINT.
import { objectKey, requirePermission, uploadLimit } from '../auth/scope.js'
import { invalidParameter, payloadTooLarge } from '../errors.js'
import { Params } from '../params.js'
import { COMMON_ERRORS, KEY_PARAMS } from './params.js'
import { defineTool } from './registry.js'

export default defineTool({
  name: 's3_presign',
  summary: 'Create a presigned S3 URL',
  description: 'Answer a URL that downloads (method GET) or uploads (method PUT) the object directly, without credentials, until it expires; ' +
    'method POST answers a browser-form upload (url and fields) that S3 refuses above max_bytes. Use it for files above 10 MiB. ' +
    'With content_type the uploader must send that Content-Type; with size on a PUT, exactly that many bytes.',
  tag: 'presign',
  permission: 'presign',
  annotations: { readOnly: true, destructive: false, idempotent: false },
  params: {
    ...KEY_PARAMS,
    method: { type: 'string', description: 'GET (download URL, the default), PUT (upload URL) or POST (an HTML form upload: url and fields).', example: 'GET' },
    expires_in: { type: 'integer', description: 'Lifetime of the URL in seconds (default 3600).', example: 900 },
    presigned_expiration: { type: 'integer', description: 'Alias of expires_in.', aliasOf: 'expires_in' },
    presign_expiry: { type: 'integer', description: 'Alias of expires_in.', aliasOf: 'expires_in' },
    content_type: { type: 'string', description: 'PUT and POST: the Content-Type the uploader must send (it becomes part of the signature or policy).', example: 'application/pdf' },
    size: { type: 'integer', description: 'PUT only: the exact size in bytes the upload must have (the Content-Length is signed).', example: 1048576 },
    max_bytes: { type: 'integer', description: 'POST only: the largest upload the form allows, in bytes (default: the upload limit).', example: 104857600 }
  },
  openapi: { method: 'post', path: '/presign', body: 'json', required: [], answer: { status: 200, description: 'The URL.', schema: 'PresignResult' }, errors: COMMON_ERRORS },
  routes: (app) => [{
    method: 'POST',
    path: '/presign',
    params: 'body',
    handler: async (request) => {
      const { config, store } = app
      const params = new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)
      const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
      const method = (params.string('method') ?? 'GET').toUpperCase()
      if (method !== 'GET' && method !== 'PUT' && method !== 'POST') throw invalidParameter(`method must be GET, PUT or POST (got ${JSON.stringify(method)})`)
      // a URL is the object itself: reading it takes read, writing it write
      if (method === 'GET') requirePermission(request, 'read', 'presign a download (GET)')
      else requirePermission(request, 'write', `presign an upload (${method})`)
      const expiresIn = params.expiry(config.presignDefaultExpiry, config.presignMaxExpiry, 'expires_in', 'presigned_expiration', 'presign_expiry')
      const contentType = method !== 'GET' ? params.contentType() : undefined
      const limit = uploadLimit(request)
      const common = { bucket: store.bucket, key: key.key, method, expires_in: expiresIn, expires_at: new Date(Date.now() + expiresIn * 1000).toISOString() }
      if (method === 'POST') {
        const maxBytes = params.integer('max_bytes') ?? limit
        if (maxBytes < 0) throw invalidParameter(`max_bytes must be 0 or more (got ${maxBytes})`)
        if (maxBytes > limit) throw payloadTooLarge(limit, 'presigned upload (max_bytes)')
        const { url, fields } = store.direct.presignPost(key.storedKey, { expiresIn, maxBytes, contentType })
        return { ...common, url, fields, max_bytes: maxBytes, headers: {} }
      }
      const size = method === 'PUT' ? params.integer('size') : undefined
      if (size !== undefined && size < 0) throw invalidParameter(`size must be 0 or more (got ${size})`)
      if (size !== undefined && size > limit) throw payloadTooLarge(limit, 'presigned upload (size)')
      const url = await store.presign(key.storedKey, method, expiresIn, contentType, size)
      return {
        ...common,
        url,
        headers: { ...(contentType !== undefined ? { 'Content-Type': contentType } : {}), ...(size !== undefined ? { 'Content-Length': String(size) } : {}) }
      }
    }
  }]
})

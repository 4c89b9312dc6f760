// s3_presign — POST /presign: a GET or PUT URL signed for S3_PUBLIC_ENDPOINT.
import { objectKey, requirePermission } from '../auth/scope.js'
import { invalidParameter } from '../errors.js'
import { Params } from '../params.js'
import { COMMON_ERRORS, KEY_PARAMS } from './params.js'
import { defineTool } from './registry.js'

export default defineTool({
  name: 's3_presign',
  summary: 'Create a presigned S3 URL',
  description: 'Answer a URL that downloads (method GET) or uploads (method PUT) the object directly, without credentials, until it expires. ' +
    'Use it for files above 10 MiB. With content_type on a PUT, the uploader must send that Content-Type.',
  tag: 'presign',
  permission: 'presign',
  annotations: { readOnly: true, destructive: false, idempotent: false },
  params: {
    ...KEY_PARAMS,
    method: { type: 'string', description: 'GET (download URL, the default) or PUT (upload URL).', example: 'GET' },
    expires_in: { type: 'integer', description: 'Lifetime of the URL in seconds (default 3600).', example: 900 },
    presigned_expiration: { type: 'integer', description: 'Alias of expires_in.', aliasOf: 'expires_in' },
    presign_expiry: { type: 'integer', description: 'Alias of expires_in.', aliasOf: 'expires_in' },
    content_type: { type: 'string', description: 'PUT only: the Content-Type the uploader must send (it becomes part of the signature).', example: 'application/pdf' }
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
      if (method !== 'GET' && method !== 'PUT') throw invalidParameter(`method must be GET or PUT (got ${JSON.stringify(method)})`)
      // a URL is the object itself: reading it takes read, writing it write
      if (method === 'GET') requirePermission(request, 'read', 'presign a download (GET)')
      else requirePermission(request, 'write', 'presign an upload (PUT)')
      const expiresIn = params.expiry(config.presignDefaultExpiry, config.presignMaxExpiry, 'expires_in', 'presigned_expiration', 'presign_expiry')
      const contentType = method === 'PUT' ? params.contentType() : undefined
      const url = await store.presign(key.storedKey, method, expiresIn, contentType)
      return {
        bucket: store.bucket,
        key: key.key,
        method,
        url,
        expires_in: expiresIn,
        expires_at: new Date(Date.now() + expiresIn * 1000).toISOString(),
        headers: contentType !== undefined ? { 'Content-Type': contentType } : {}
      }
    }
  }]
})

// s3_presign — POST /presign: a GET or PUT URL signed for S3_PUBLIC_ENDPOINT.
import { invalidParameter } from '../errors.js'
import { Params } from '../params.js'
import { resolveObjectKey } from '../s3/keys.js'
import { PresignBody } from '../schemas/common.js'
import type { ToolModule } from './tool-routes.js'

const presign: ToolModule = {
  name: 's3_presign',
  routes: (app) => [{
    method: 'POST',
    path: '/presign',
    options: { schema: { body: PresignBody } },
    handler: async (request) => {
      const { config, store } = app
      const params = new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)
      const key = resolveObjectKey([params.string('s3_key'), params.string('filename')], config.keyPrefix)
      const method = (params.string('method') ?? 'GET').toUpperCase()
      if (method !== 'GET' && method !== 'PUT') throw invalidParameter(`method must be GET or PUT (got ${JSON.stringify(method)})`)
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
}
export default presign

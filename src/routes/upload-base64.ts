// s3_upload_base64 — POST /upload/base64: JSON {file_base64}, decoded strictly.
import { AppError } from '../errors.js'
import { storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { resolveObjectKey } from '../s3/keys.js'
import { Base64UploadBody, UploadQuery } from '../schemas/common.js'
import { decodeBase64Strict, encodedLength } from '../transfer/base64.js'
import { storeBuffer } from '../transfer/ingest.js'
import type { ToolModule } from './tool-routes.js'
import { uploadAnswer } from './upload-answer.js'

const uploadBase64: ToolModule = {
  name: 's3_upload_base64',
  routes: (app) => [{
    method: 'POST',
    path: '/upload/base64',
    options: {
      schema: { querystring: UploadQuery, body: Base64UploadBody },
      // the JSON text holds the base64 (4/3 of the bytes) plus line breaks and fields
      bodyLimit: Math.ceil(encodedLength(app.config.base64MaxBytes) * 1.05) + 1024 * 1024
    },
    handler: async (request, reply) => {
      const { config } = app
      const params = new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)
      const key = resolveObjectKey([params.string('s3_key'), params.string('filename')], config.keyPrefix)
      const sha256 = params.sha256()
      const presignExpiry = params.presign(config.presignDefaultExpiry, config.presignMaxExpiry)
      const text = params.string('file_base64')
      if (text === undefined) throw new AppError('MISSING_FILE', 'Missing required parameter: file_base64')
      const { data, mimeType } = decodeBase64Strict(text, config.base64MaxBytes)
      const contentType = storedContentType(params.contentType(), mimeType, key.key)
      const stored = await storeBuffer(app.store, key.storedKey, data, contentType, sha256)
      return await reply.code(201).send(await uploadAnswer(app, key, stored, contentType, presignExpiry))
    }
  }]
}
export default uploadBase64

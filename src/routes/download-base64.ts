// s3_download_base64 — GET / POST /download/base64: one JSON object whose
// content_base64 is encoded while the object streams from S3; the whole object
// is never in memory.
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { AppError } from '../errors.js'
import { Params } from '../params.js'
import { resolveObjectKey } from '../s3/keys.js'
import { DownloadQuery } from '../schemas/common.js'
import type { ToolModule } from './tool-routes.js'
import { encodeBase64, encodedLength } from '../transfer/base64.js'

/** Dify's HTTP Request node rejects text responses above 1 MiB */
export const DIFY_TEXT_LIMIT = 1024 * 1024
export const BASE64_WARNING = "base64 output exceeds 1 MiB: Dify's HTTP Request node rejects text above 1 MiB; use /download/file or presigned_url"

const downloadBase64: ToolModule = {
  name: 's3_download_base64',
  routes: (app) => {
    const schema = { querystring: DownloadQuery }
    return [
      {
        method: 'GET',
        path: '/download/base64',
        options: { schema },
        handler: async (request, reply) => await answer(app, reply, new Params(request.query as Record<string, unknown>))
      },
      {
        method: 'POST',
        path: '/download/base64',
        options: { schema: { ...schema, body: DownloadQuery } },
        handler: async (request, reply) =>
          await answer(app, reply, new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>))
      }
    ]
  }
}
export default downloadBase64

async function answer (app: FastifyInstance, reply: FastifyReply, params: Params): Promise<unknown> {
  const { config, store } = app
  const key = resolveObjectKey([params.string('s3_key'), params.string('filename')], config.keyPrefix)
  const expiry = params.presign(config.presignDefaultExpiry, config.presignMaxExpiry)
  const presignedUrl = expiry !== undefined ? await store.presign(key.storedKey, 'GET', expiry) : undefined
  const result = await store.read(key.storedKey)
  if (result.status === 304) throw new Error('download/base64: unconditional read answered 304')
  const { info, body } = result
  if (info.size > config.base64MaxBytes) {
    body.destroy()
    throw new AppError('PAYLOAD_TOO_LARGE', `The object is ${info.size} bytes, more than BASE64_MAX_BYTES (${config.base64MaxBytes}); use /download/file or a presigned URL (generate_presigned_url=true)`)
  }
  const base64Length = encodedLength(info.size)
  const head = JSON.stringify({
    bucket: store.bucket,
    key: key.key,
    size: info.size,
    content_type: info.contentType,
    etag: info.etag,
    last_modified: info.lastModified?.toISOString() ?? null
  }).slice(0, -1) + ',"content_base64":"'
  const extra = {
    ...(base64Length > DIFY_TEXT_LIMIT ? { warning: BASE64_WARNING } : {}),
    ...(presignedUrl !== undefined ? { presigned_url: presignedUrl, presigned_expires_in: expiry } : {})
  }
  const tail = '"' + Object.entries(extra).map(([name, value]) => `,${JSON.stringify(name)}:${JSON.stringify(value)}`).join('') + '}'

  async function * json (): AsyncGenerator<string> {
    yield head
    let sent = 0
    for await (const text of encodeBase64(body)) {
      sent += text.length
      yield text
    }
    // never a clean-looking answer from a short object: fail the response instead
    if (sent !== base64Length) throw new Error(`S3 sent ${sent} base64 characters' worth of ${base64Length}`)
    yield tail
  }
  return await reply
    .code(200)
    .type('application/json; charset=utf-8')
    .header('content-length', String(Buffer.byteLength(head) + base64Length + Buffer.byteLength(tail)))
    .send(Readable.from(json(), { objectMode: false }))
}

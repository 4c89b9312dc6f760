// s3_download_base64 — GET / POST /download/base64: one JSON object whose
// content_base64 is encoded while the object streams from S3; the whole object
// is never in memory.
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { objectKey, presignExpiry } from '../auth/scope.js'
import { AppError } from '../errors.js'
import { Params } from '../params.js'
import { encodeBase64, encodedLength } from '../transfer/base64.js'
import { COMMON_ERRORS, KEY_PARAMS, MAX_BYTES_PARAM, PRESIGN_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { objectMeta } from './object-meta.js'
import { maxBytesOf, tooLargeAnswer } from './too-large.js'

/** Dify's HTTP Request node rejects text responses above 1 MiB */
export const DIFY_TEXT_LIMIT = 1024 * 1024
export const BASE64_WARNING = "base64 output exceeds 1 MiB: Dify's HTTP Request node rejects text above 1 MiB; use /download/file or presigned_url"

/** 1 MiB of base64 text, Dify's text limit, is 768 KiB of object */
export const DIFY_BASE64_LIMIT = DIFY_TEXT_LIMIT / 4 * 3

export default defineTool({
  name: 's3_download_base64',
  summary: 'Download an object from S3 as base64',
  description: 'Answer the object as JSON with content_base64, size, content type and ETag. The key comes from s3_key, else filename. ' +
    'An object larger than max_bytes (decoded bytes) is not sent: the answer then has too_large: true, its size and a presigned_url that downloads it from S3 directly.',
  tag: 'download',
  permission: 'read',
  annotations: { readOnly: true, destructive: false, idempotent: true },
  params: { ...KEY_PARAMS, max_bytes: MAX_BYTES_PARAM(DIFY_BASE64_LIMIT, 'object (decoded bytes)'), ...PRESIGN_PARAMS },
  openapi: { method: 'get', path: '/download/base64', body: 'query', required: [], answer: { status: 200, description: 'The object, base64-encoded, or (above max_bytes) the too_large JSON.', schema: 'Base64Download' }, errors: [...COMMON_ERRORS, 404, 413] },
  routes: () => [
    {
      method: 'GET',
      path: '/download/base64',
      params: 'query',
      handler: async (request, reply) => await answer(request, reply, new Params(request.query as Record<string, unknown>))
    },
    {
      method: 'POST',
      path: '/download/base64',
      params: 'body',
      handler: async (request, reply) =>
        await answer(request, reply, new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>))
    }
  ]
})

async function answer (request: FastifyRequest, reply: FastifyReply, params: Params): Promise<unknown> {
  const { config, store } = request.server
  const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
  const maxBytes = maxBytesOf(params)
  const expiry = presignExpiry(request, params)
  const presignedUrl = expiry !== undefined ? await store.presign(key.storedKey, 'GET', expiry) : undefined
  const { info, body } = await store.read(key.storedKey)
  if (maxBytes !== undefined && info.size > maxBytes) {
    body.destroy()
    return await reply.code(200).send(await tooLargeAnswer(request, params, key, info, maxBytes))
  }
  if (info.size > config.base64MaxBytes) {
    body.destroy()
    throw new AppError('PAYLOAD_TOO_LARGE', `The object is ${info.size} bytes, more than BASE64_MAX_BYTES (${config.base64MaxBytes}); use /download/file or a presigned URL (generate_presigned_url=true)`)
  }
  const base64Length = encodedLength(info.size)
  const head = JSON.stringify(objectMeta(store.bucket, key.key, info)).slice(0, -1) + ',"content_base64":"'
  const extra = {
    ...(base64Length > DIFY_TEXT_LIMIT ? { warning: BASE64_WARNING } : {}),
    ...(presignedUrl !== undefined ? { presigned_url: presignedUrl, presigned_expires_in: expiry } : {})
  }
  const tail = '"' + Object.entries(extra).map(([name, value]) => `,${JSON.stringify(name)}:${JSON.stringify(value)}`).join('') + '}\n'

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

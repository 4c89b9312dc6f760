// max_bytes on the downloads (API.md Part 2): an object above it is not sent;
// the answer is 200 JSON with too_large: true and a presigned URL, so that a
// Dify HTTP node or custom tool never fails on a big object and still gets a
// way to it (a custom tool cannot read response headers).
import type { FastifyRequest } from 'fastify'
import { hasPermission } from '../auth/scope.js'
import { invalidParameter } from '../errors.js'
import type { Params } from '../params.js'
import type { ObjectKey } from '../s3/keys.js'
import type { ObjectInfo } from '../s3/store.js'
import type { TooLargeAnswer } from '../schemas/responses.js'
import { objectMeta } from './object-meta.js'

export function maxBytesOf (params: Params): number | undefined {
  const value = params.integer('max_bytes')
  if (value !== undefined && value < 0) throw invalidParameter(`max_bytes must be 0 or more (got ${value})`)
  return value
}

export async function tooLargeAnswer (request: FastifyRequest, params: Params, key: ObjectKey, info: ObjectInfo, maxBytes: number): Promise<TooLargeAnswer> {
  const { config, store } = request.server
  const answer: TooLargeAnswer = {
    ...objectMeta(store.bucket, key.key, info),
    too_large: true,
    max_bytes: maxBytes,
    message: `The object is ${info.size} bytes, more than max_bytes (${maxBytes}): it was not sent. Download it from presigned_url.`
  }
  if (!hasPermission(request, 'presign')) {
    answer.message = `The object is ${info.size} bytes, more than max_bytes (${maxBytes}): it was not sent, and this API key may not get presigned URLs (no "presign" permission).`
    return answer
  }
  const expiry = params.expiry(config.presignDefaultExpiry, config.presignMaxExpiry, 'presigned_expiration', 'presign_expiry')
  answer.presigned_url = await store.presign(key.storedKey, 'GET', expiry)
  answer.presigned_expires_in = expiry
  return answer
}

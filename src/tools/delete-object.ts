// s3_delete_object — POST / DELETE /delete: one key (idempotent, as S3 is:
// deleting a missing key succeeds) or a batch of up to 1000 in one
// DeleteObjects call. Every key of a batch is checked before anything is
// deleted; a bad one refuses the whole batch.
import type { FastifyRequest } from 'fastify'
import { callerKeyOf, objectKey } from '../auth/scope.js'
import { AppError, invalidParameter } from '../errors.js'
import { Params } from '../params.js'
import { COMMON_ERRORS, KEY_PARAMS } from './params.js'
import { defineTool } from './registry.js'

const MAX_BATCH = 1000

export default defineTool({
  name: 's3_delete_object',
  summary: 'Delete objects from S3',
  description: 'Delete the object at s3_key (deleted: true, also when there was no such object), or with keys up to 1000 objects at once ' +
    '(deleted lists the keys deleted, errors the ones S3 refused). Deleted objects cannot be recovered.',
  tag: 'objects',
  permission: 'delete',
  annotations: { readOnly: false, destructive: true, idempotent: true },
  params: {
    ...KEY_PARAMS,
    keys: { type: 'string_list', description: 'Several keys to delete at once, at most 1000: a JSON array, or the keys separated by commas.', example: '["tmp/a.txt", "tmp/b.txt"]' }
  },
  openapi: { method: 'post', path: '/delete', body: 'json', required: [], answer: { status: 200, description: 'Deleted.', schema: 'DeleteResult' }, errors: COMMON_ERRORS },
  routes: () => [
    { method: 'POST', path: '/delete', params: 'body', handler: async (request) => await remove(request, new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)) },
    { method: 'DELETE', path: '/delete', params: 'query', handler: async (request) => await remove(request, new Params(request.query as Record<string, unknown>)) }
  ]
})

async function remove (request: FastifyRequest, params: Params): Promise<Record<string, unknown>> {
  const { store } = request.server
  const list = params.stringList('keys')
  const keys = list !== undefined ? [...new Set(list)] : undefined
  if (keys === undefined) {
    const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
    await store.objects.delete(key.storedKey)
    return { bucket: store.bucket, key: key.key, deleted: true }
  }
  if (keys.length === 0) throw new AppError('MISSING_KEY', 'keys is empty: name at least one key')
  if (keys.length > MAX_BATCH) throw invalidParameter(`keys holds ${keys.length} keys; at most ${MAX_BATCH} at once`)
  const stored = keys.map((k, i) => {
    try {
      return objectKey(request, [k]).storedKey
    } catch (err) {
      throw new AppError((err as AppError).code ?? 'INVALID_KEY', `keys[${i}]: ${(err as Error).message}`)
    }
  })
  const outcome = await store.objects.deleteMany(stored)
  const own = (k: string): string => callerKeyOf(request, k) ?? k
  return { bucket: store.bucket, deleted: outcome.deleted.map(own), errors: outcome.errors.map((e) => ({ ...e, key: own(e.key) })) }
}

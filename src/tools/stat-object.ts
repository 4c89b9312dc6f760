// s3_stat_object — GET / POST /stat: an object's size, type, ETag, date and
// metadata, without reading it.
import type { FastifyRequest } from 'fastify'
import { objectKey } from '../auth/scope.js'
import { Params } from '../params.js'
import { COMMON_ERRORS, KEY_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { objectMeta } from './object-meta.js'

export default defineTool({
  name: 's3_stat_object',
  summary: 'Describe an object in S3',
  description: 'Answer an object\'s size in bytes, content type, ETag, last-modified time and user metadata without downloading it; NOT_FOUND when there is no such object. ' +
    'Use it to check that a key exists or to decide how to fetch a file by its size.',
  tag: 'objects',
  permission: 'read',
  annotations: { readOnly: true, destructive: false, idempotent: true },
  params: { ...KEY_PARAMS },
  openapi: { method: 'get', path: '/stat', body: 'query', required: [], answer: { status: 200, description: 'The object\'s metadata.', schema: 'StatResult' }, errors: [...COMMON_ERRORS, 404] },
  routes: () => [
    { method: 'GET', path: '/stat', params: 'query', handler: async (request) => await stat(request, new Params(request.query as Record<string, unknown>)) },
    { method: 'POST', path: '/stat', params: 'body', handler: async (request) => await stat(request, new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)) }
  ]
})

async function stat (request: FastifyRequest, params: Params): Promise<Record<string, unknown>> {
  const { store } = request.server
  const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
  const info = await store.objects.stat(key.storedKey)
  return { ...objectMeta(store.bucket, key.key, info), metadata: info.metadata }
}

// s3_copy_object — POST /copy: server-side copy inside the bucket (no byte
// passes through the service), keeping the source's metadata unless
// content_type replaces the type; `move` deletes the source once the copy
// succeeded; `overwrite: false` refuses an existing target.
import type { FastifyRequest } from 'fastify'
import { objectKey, requirePermission } from '../auth/scope.js'
import { AppError, invalidParameter } from '../errors.js'
import { Params } from '../params.js'
import { COMMON_ERRORS, KEY_PARAMS } from './params.js'
import { defineTool } from './registry.js'

export default defineTool({
  name: 's3_copy_object',
  summary: 'Copy or move an object in S3',
  description: 'Copy the object at source_key to s3_key (or filename) inside the bucket, server-side, keeping its metadata; content_type replaces its type. ' +
    'move: true deletes the source after the copy succeeded (a rename). overwrite: false refuses to replace an existing object at the target (PRECONDITION_FAILED).',
  tag: 'objects',
  permission: 'write',
  annotations: { readOnly: false, destructive: true, idempotent: false },
  params: {
    source_key: { type: 'string', description: 'The key of the object to copy.', example: 'inbox/report.pdf' },
    ...KEY_PARAMS,
    content_type: { type: 'string', description: 'A new Content-Type for the copy (default: the source\'s).', example: 'application/pdf' },
    move: { type: 'boolean', description: 'Delete the source after the copy succeeded (default false).', example: false },
    overwrite: { type: 'boolean', description: 'Replace an existing object at the target (default true).', example: true },
    if_none_match: { type: 'string', description: '"*": create only, the same as overwrite: false.', hidden: true }
  },
  openapi: { method: 'post', path: '/copy', body: 'json', required: ['source_key'], answer: { status: 201, description: 'Copied.', schema: 'CopyResult' }, errors: [...COMMON_ERRORS, 404, 412] },
  routes: () => [{
    method: 'POST',
    path: '/copy',
    params: 'body',
    handler: async (request, reply) => await reply.code(201).send(await copy(request, new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)))
  }]
})

async function copy (request: FastifyRequest, params: Params): Promise<Record<string, unknown>> {
  const { store } = request.server
  const sourceName = params.string('source_key')
  if (sourceName === undefined) throw new AppError('MISSING_KEY', 'Missing required parameter: source_key')
  const source = objectKey(request, [sourceName])
  const target = objectKey(request, [params.string('s3_key'), params.string('filename')])
  const contentType = params.contentType()
  const move = params.boolean('move') ?? false
  const ifNoneMatch = params.string('if_none_match')
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw invalidParameter('if_none_match takes only "*" (create only)')
  const overwrite = (params.boolean('overwrite') ?? true) && ifNoneMatch === undefined
  requirePermission(request, 'read', 'copy (reading the source)')
  if (move) requirePermission(request, 'delete', 'move (deleting the source)')
  if (source.storedKey === target.storedKey) throw invalidParameter('source_key and the target name the same object')
  // S3 has no create-only copy everywhere: checked here, just before the copy
  if (!overwrite && await store.objects.exists(target.storedKey)) {
    throw new AppError('PRECONDITION_FAILED', `An object exists at ${target.key} and overwrite is false; nothing was copied`)
  }
  const { size, etag } = await store.objects.copy(source.storedKey, target.storedKey, { contentType })
  if (move) await store.objects.delete(source.storedKey)
  return {
    bucket: store.bucket,
    source_key: source.key,
    key: target.key,
    size,
    etag,
    moved: move,
    message: `${move ? 'Moved' : 'Copied'} s3://${store.bucket}/${source.storedKey} to s3://${store.bucket}/${target.storedKey}`
  }
}

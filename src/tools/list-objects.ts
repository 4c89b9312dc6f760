// s3_list_objects — GET / POST /list: the keys under a prefix, a page at a
// time, with delimiter "folders". Only the caller's scope is ever listed, and
// keys are answered as the caller names them.
import type { FastifyRequest } from 'fastify'
import { callerKeyOf, storedKeyOf } from '../auth/scope.js'
import { AppError, invalidParameter } from '../errors.js'
import { Params } from '../params.js'
import { keyProblem, MAX_KEY_BYTES } from '../s3/keys.js'
import type { ListAnswer } from '../schemas/responses.js'
import { COMMON_ERRORS } from './params.js'
import { defineTool } from './registry.js'

const DEFAULT_MAX_KEYS = 100

export default defineTool({
  name: 's3_list_objects',
  summary: 'List objects in S3',
  description: 'List the objects whose keys start with prefix (all objects when absent), up to max_keys at a time, with their size, ETag and last-modified time. ' +
    'With delimiter "/" the keys directly under prefix are listed and deeper "folders" come in common_prefixes. ' +
    'When is_truncated is true, call again with continuation_token set to next_continuation_token for the next page.',
  tag: 'objects',
  permission: 'list',
  annotations: { readOnly: true, destructive: false, idempotent: true },
  params: {
    prefix: { type: 'string', description: 'Only keys starting with this, e.g. "reports/2025/" (a folder ends in "/").', example: 'reports/' },
    delimiter: { type: 'string', description: 'Group keys by this character, e.g. "/" to list one folder level.', example: '/' },
    max_keys: { type: 'integer', description: `Keys per page, 1 to 1000 (default ${DEFAULT_MAX_KEYS}).`, example: DEFAULT_MAX_KEYS },
    continuation_token: { type: 'string', description: 'next_continuation_token of the previous page.', example: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=' }
  },
  openapi: { method: 'get', path: '/list', body: 'query', required: [], answer: { status: 200, description: 'One page of the listing.', schema: 'ListResult' }, errors: COMMON_ERRORS },
  routes: () => [
    { method: 'GET', path: '/list', params: 'query', handler: async (request) => await list(request, new Params(request.query as Record<string, unknown>)) },
    { method: 'POST', path: '/list', params: 'body', handler: async (request) => await list(request, new Params(request.body as Record<string, unknown>, request.query as Record<string, unknown>)) }
  ]
})

/** A prefix is half a key: the key rules hold for it, but it may be empty or end in "/". */
function listPrefix (raw: string | undefined): string {
  const prefix = (raw ?? '').replace(/^\/+/, '')
  const bare = prefix.replace(/\/+$/, '')
  if (bare === '') return ''
  const problem = keyProblem(bare)
  if (problem !== undefined) throw new AppError('INVALID_KEY', `Invalid prefix ${JSON.stringify(raw)}: ${problem.replace('the key', 'it')}`)
  return prefix
}

async function list (request: FastifyRequest, params: Params): Promise<ListAnswer> {
  const { store } = request.server
  const prefix = listPrefix(params.string('prefix'))
  const delimiter = params.string('delimiter')
  const maxKeys = params.integer('max_keys') ?? DEFAULT_MAX_KEYS
  if (maxKeys < 1 || maxKeys > 1000) throw invalidParameter(`max_keys must be between 1 and 1000 (got ${maxKeys})`)
  // the scope root ends the stored prefix with "/": a key's scope never lists its neighbour's ("acme" vs "acme-2")
  const storedPrefix = storedKeyOf(request, prefix)
  if (Buffer.byteLength(storedPrefix) > MAX_KEY_BYTES) throw new AppError('INVALID_KEY', `Invalid prefix: longer than ${MAX_KEY_BYTES} UTF-8 bytes`)
  const page = await store.objects.list({ prefix: storedPrefix, delimiter, maxKeys, continuationToken: params.string('continuation_token') })
  const own = (stored: string): string | undefined => callerKeyOf(request, stored)
  return {
    bucket: store.bucket,
    prefix,
    delimiter: delimiter ?? null,
    objects: page.objects.flatMap((o) => { const key = own(o.key); return key === undefined ? [] : [{ ...o, key }] }),
    common_prefixes: page.commonPrefixes.flatMap((p) => { const key = own(p); return key === undefined ? [] : [key] }),
    is_truncated: page.isTruncated,
    next_continuation_token: page.nextContinuationToken ?? null
  }
}

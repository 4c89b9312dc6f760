// Who is calling and what they may touch: the one place where a request's
// key becomes permissions, an upload limit and the prefix every object key it
// names is resolved under. Tool handlers resolve keys only through here, so
// no key, `..` segment, copy source or list prefix reaches outside a scope.
import type { FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'
import type { Params } from '../params.js'
import { resolveObjectKey, type ObjectKey } from '../s3/keys.js'
import { PERMISSIONS, type ApiKey, type Permission } from './keys.js'

export interface Caller {
  /** the key's name ('anonymous' when auth is off) */
  name: string
  permissions: ReadonlySet<Permission>
  /** the key's own prefix, without KEY_PREFIX */
  prefix: string
  maxUploadBytes: number | undefined
}

/** With auth off (no keys configured) a caller may do everything the service does. */
export const ANONYMOUS: Caller = { name: 'anonymous', permissions: new Set(PERMISSIONS), prefix: '', maxUploadBytes: undefined }

export function callerOf (key: ApiKey): Caller {
  return { name: key.name, permissions: key.permissions, prefix: key.prefix, maxUploadBytes: key.maxUploadBytes }
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller
  }
}

export function forbidden (caller: Caller, permission: Permission, what: string): AppError {
  return new AppError('FORBIDDEN', `The API key "${caller.name}" may not ${what}: it lacks the "${permission}" permission`)
}

/** Throw 403 FORBIDDEN unless the caller holds every permission named. */
export function requirePermission (request: FastifyRequest, permission: Permission, what: string): void {
  const caller = request.caller ?? ANONYMOUS
  if (!caller.permissions.has(permission)) throw forbidden(caller, permission, what)
}

export function hasPermission (request: FastifyRequest, permission: Permission): boolean {
  return (request.caller ?? ANONYMOUS).permissions.has(permission)
}

/** KEY_PREFIX joined with the caller's prefix: the root of everything this request may name. */
export function scopeRoot (request: FastifyRequest): string {
  const prefix = (request.caller ?? ANONYMOUS).prefix
  const keyPrefix = request.server.config.keyPrefix
  return [keyPrefix, prefix].filter((p) => p !== '').join('/')
}

/** An object key named by this request (s3_key > filename > …), validated and placed under its scope. */
export function objectKey (request: FastifyRequest, candidates: ReadonlyArray<string | undefined>): ObjectKey {
  return resolveObjectKey(candidates, scopeRoot(request))
}

/** The stored key of a caller's key: its scope root joined on. */
export function storedKeyOf (request: FastifyRequest, key: string): string {
  const root = scopeRoot(request)
  return root === '' ? key : `${root}/${key}`
}

/** A stored key → the caller's key, or undefined when it lies outside the caller's scope. */
export function callerKeyOf (request: FastifyRequest, storedKey: string): string | undefined {
  const root = scopeRoot(request)
  if (root === '') return storedKey
  return storedKey.startsWith(`${root}/`) ? storedKey.slice(root.length + 1) : undefined
}

/** The largest upload this caller may make: MAX_UPLOAD_BYTES, or the key's own lower limit. */
export function uploadLimit (request: FastifyRequest): number {
  const own = (request.caller ?? ANONYMOUS).maxUploadBytes
  const limit = request.server.config.maxUploadBytes
  return own !== undefined && own < limit ? own : limit
}

/** generate_presigned_url's expiry when asked for — which takes the "presign" permission. */
export function presignExpiry (request: FastifyRequest, params: Params): number | undefined {
  const { presignDefaultExpiry, presignMaxExpiry } = request.server.config
  const expiry = params.presign(presignDefaultExpiry, presignMaxExpiry)
  if (expiry !== undefined) requirePermission(request, 'presign', 'get presigned URLs (generate_presigned_url)')
  return expiry
}

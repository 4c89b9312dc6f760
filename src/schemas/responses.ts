// What the tools answer (API.md "Success responses", "Errors"), as TypeBox:
// the TypeScript types the routes build and the OpenAPI document's responses
// (OpenAPI 3.0 JSON Schema: `nullable` and `enum`, not `null` types or `const`).
import { Type, type Static } from '@sinclair/typebox'

const presigned = {
  presigned_url: Type.Optional(Type.String({ description: 'Presigned GET URL (only when generate_presigned_url was true).' })),
  presigned_expires_in: Type.Optional(Type.Integer({ description: 'Lifetime of presigned_url in seconds.' }))
}

export const UploadResult = Type.Object({
  bucket: Type.String(),
  key: Type.String({ description: 'The object key, as given (without KEY_PREFIX).' }),
  size: Type.Integer({ description: 'Bytes stored.' }),
  etag: Type.String(),
  content_type: Type.String(),
  sha256: Type.String({ description: 'SHA-256 of the stored bytes, hex.' }),
  message: Type.String({ description: 'Where the object was stored, as s3://bucket/key.' }),
  ...presigned
}, { $id: 'UploadResult' })
export type UploadAnswer = Static<typeof UploadResult>

export const UploadFilesResult = Type.Object({
  bucket: Type.String(),
  files: Type.Array(Type.Omit(UploadResult, []), { description: 'Each stored file\'s upload answer, in form order.' }),
  failed: Type.Array(Type.Object({ filename: Type.Unsafe<string | null>({ type: 'string', nullable: true }), code: Type.String(), message: Type.String() }), { description: 'Each file that was not stored (it left nothing), and a form that broke after files were stored (filename null).' })
}, { $id: 'UploadFilesResult' })

export const Base64Download = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  size: Type.Integer(),
  content_type: Type.String(),
  etag: Type.String(),
  last_modified: Type.Unsafe<string | null>({ type: 'string', format: 'date-time', nullable: true }),
  content_base64: Type.String({ description: 'The whole object, base64-encoded.' }),
  warning: Type.Optional(Type.String({ description: 'Set when content_base64 is over 1 MiB (too big for Dify\'s HTTP node text output).' })),
  ...presigned
}, { $id: 'Base64Download' })

export const TooLargeResult = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  size: Type.Integer({ description: 'The object\'s size in bytes.' }),
  content_type: Type.String(),
  etag: Type.String(),
  last_modified: Type.Unsafe<string | null>({ type: 'string', format: 'date-time', nullable: true }),
  too_large: Type.Boolean({ description: 'Always true: the object is larger than max_bytes and was not sent.' }),
  max_bytes: Type.Integer(),
  message: Type.String(),
  ...presigned
}, { $id: 'TooLarge' })
export type TooLargeAnswer = Static<typeof TooLargeResult>

export const PresignResult = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  method: Type.Unsafe<'GET' | 'PUT' | 'POST'>({ type: 'string', enum: ['GET', 'PUT', 'POST'] }),
  url: Type.String({ description: 'GET/PUT: the URL. POST: the bucket URL the form is posted to.' }),
  fields: Type.Optional(Type.Object({}, { additionalProperties: Type.String(), description: 'POST only: the form fields to send before the file field.' })),
  max_bytes: Type.Optional(Type.Integer({ description: 'POST only: the largest upload S3 accepts with this form.' })),
  expires_in: Type.Integer(),
  expires_at: Type.String({ format: 'date-time' }),
  headers: Type.Object({}, { additionalProperties: Type.String(), description: 'Headers the uploader must send with a PUT (Content-Type and Content-Length, when they are signed).' })
}, { $id: 'PresignResult' })

const lastModified = Type.Unsafe<string | null>({ type: 'string', format: 'date-time', nullable: true })

export const ListResult = Type.Object({
  bucket: Type.String(),
  prefix: Type.String({ description: 'The prefix listed, as given.' }),
  delimiter: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
  objects: Type.Array(Type.Object({ key: Type.String(), size: Type.Integer(), etag: Type.String(), last_modified: lastModified })),
  common_prefixes: Type.Array(Type.String(), { description: 'With a delimiter: the "folders" directly under prefix, each ending in the delimiter.' }),
  is_truncated: Type.Boolean({ description: 'More keys follow: call again with continuation_token.' }),
  next_continuation_token: Type.Unsafe<string | null>({ type: 'string', nullable: true, description: 'Pass as continuation_token for the next page.' })
}, { $id: 'ListResult' })
export type ListAnswer = Static<typeof ListResult>

export const StatResult = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  size: Type.Integer(),
  content_type: Type.String(),
  etag: Type.String(),
  last_modified: lastModified,
  metadata: Type.Object({}, { additionalProperties: Type.String(), description: 'The object\'s user metadata (x-amz-meta-*).' })
}, { $id: 'StatResult' })

export const DeleteResult = Type.Object({
  bucket: Type.String(),
  key: Type.Optional(Type.String({ description: 'One key: the key deleted (also when there was no such object).' })),
  deleted: Type.Unsafe<true | string[]>({ description: 'One key: true. A batch (keys): the keys deleted.' }),
  errors: Type.Optional(Type.Array(Type.Object({ key: Type.String(), code: Type.String(), message: Type.String() }), { description: 'A batch: the keys S3 refused to delete.' }))
}, { $id: 'DeleteResult' })

export const CopyResult = Type.Object({
  bucket: Type.String(),
  source_key: Type.String(),
  key: Type.String({ description: 'The new object\'s key.' }),
  size: Type.Integer(),
  etag: Type.String(),
  moved: Type.Boolean({ description: 'true: the source was deleted after the copy.' }),
  message: Type.String()
}, { $id: 'CopyResult' })

export const ErrorResult = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'Stable error code, e.g. MISSING_KEY, NOT_FOUND, URL_NOT_ALLOWED, PAYLOAD_TOO_LARGE.' }),
  error: Type.String(),
  message: Type.String({ description: 'What went wrong and what to do about it.' })
}, { $id: 'Error' })

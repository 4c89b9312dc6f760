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

export const PresignResult = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  method: Type.Unsafe<'GET' | 'PUT'>({ type: 'string', enum: ['GET', 'PUT'] }),
  url: Type.String(),
  expires_in: Type.Integer(),
  expires_at: Type.String({ format: 'date-time' }),
  headers: Type.Object({}, { additionalProperties: Type.String(), description: 'Headers the uploader must send with a PUT (Content-Type, when it is signed).' })
}, { $id: 'PresignResult' })

export const ErrorResult = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'Stable error code, e.g. MISSING_KEY, NOT_FOUND, URL_NOT_ALLOWED, PAYLOAD_TOO_LARGE.' }),
  error: Type.String(),
  message: Type.String({ description: 'What went wrong and what to do about it.' })
}, { $id: 'Error' })

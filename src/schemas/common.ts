// Shared TypeBox schemas: the parameters every tool takes. Routes validate
// with them; values arrive as strings (query, multipart fields) or JSON, so
// booleans and integers also accept their string forms, and src/params.ts
// coerces them in one place.
import { Type } from '@sinclair/typebox'

export const BoolParam = (description: string) => Type.Union([Type.Boolean(), Type.String()], { description })
export const IntParam = (description: string) => Type.Union([Type.Integer(), Type.String()], { description })

export const KeyParams = {
  s3_key: Type.Optional(Type.String({ description: 'Object key in the bucket, e.g. "reports/2025/summary.pdf". A leading "/" is stripped.' })),
  filename: Type.Optional(Type.String({ description: 'Used as the object key when s3_key is not given.' }))
}

export const PresignParams = {
  generate_presigned_url: Type.Optional(BoolParam('Also return a presigned GET URL for the object (true/false).')),
  generate_presign_url: Type.Optional(BoolParam('Alias of generate_presigned_url.')),
  presigned_expiration: Type.Optional(IntParam('Lifetime of the presigned URL in seconds (default 3600).')),
  presign_expiry: Type.Optional(IntParam('Alias of presigned_expiration.'))
}

export const UploadParams = {
  ...KeyParams,
  content_type: Type.Optional(Type.String({ description: 'Content-Type to store with the object; guessed from the key when absent.' })),
  sha256: Type.Optional(Type.String({ description: 'Expected SHA-256 (64 hex characters) of the content; on mismatch nothing is stored.' })),
  ...PresignParams
}

export const DownloadParams = { ...KeyParams, ...PresignParams }

/** Extra, unknown parameters are ignored (Dify sends what users configure). */
export const open = { additionalProperties: true } as const

export const UploadQuery = Type.Object(UploadParams, open)
export const DownloadQuery = Type.Object(DownloadParams, open)

export const Base64UploadBody = Type.Object({
  file_base64: Type.Optional(Type.String({ description: 'The file content as base64; a "data:<mime>;base64," prefix is accepted.' })),
  ...UploadParams
}, open)

/** A Dify file object (DIFY.md §3); only these fields are read, the rest is ignored. */
export const DifyFileObject = Type.Object({
  url: Type.String({ description: 'The file URL: absolute http(s), or a Dify /files/... path resolved against DIFY_ENDPOINT.' }),
  filename: Type.Optional(Type.String()),
  mime_type: Type.Optional(Type.String())
}, open)

export const UrlUploadBody = Type.Object({
  file_url: Type.Optional(Type.String({ description: 'URL of the file to store: an absolute http(s) URL from an allowed origin, or a Dify file URL such as /files/<id>/file-preview?... (resolved against the gateway\'s DIFY_ENDPOINT).' })),
  // Dify sends "" for a blank optional field; a string is taken as the URL
  file: Type.Optional(Type.Union([DifyFileObject, Type.String()], { description: 'A Dify file object {url, filename?, mime_type?}, used when file_url is absent.' })),
  ...UploadParams
}, open)

export const PresignBody = Type.Object({
  ...KeyParams,
  method: Type.Optional(Type.String({ description: 'GET (download URL, the default) or PUT (upload URL).' })),
  expires_in: Type.Optional(IntParam('Lifetime of the URL in seconds (default 3600).')),
  content_type: Type.Optional(Type.String({ description: 'PUT only: the Content-Type the uploader must send (it becomes part of the signature).' }))
}, open)

// What every answer about one object says of it: stat, the base64 download,
// the too_large answer of both downloads.
import type { ObjectInfo } from '../s3/store.js'

export function objectMeta (bucket: string, key: string, info: ObjectInfo): { bucket: string, key: string, size: number, content_type: string, etag: string, last_modified: string | null } {
  return { bucket, key, size: info.size, content_type: info.contentType, etag: info.etag, last_modified: info.lastModified?.toISOString() ?? null }
}

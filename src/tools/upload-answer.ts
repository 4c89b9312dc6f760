// The 201 answer every upload tool gives (API.md "Success responses").
import type { FastifyInstance } from 'fastify'
import type { ObjectKey } from '../s3/keys.js'
import type { UploadAnswer } from '../schemas/responses.js'
import type { Stored } from '../transfer/ingest.js'

export type { UploadAnswer }

export async function uploadAnswer (app: FastifyInstance, key: ObjectKey, stored: Stored, presignExpiry: number | undefined): Promise<UploadAnswer> {
  const { bucket } = app.store
  const answer: UploadAnswer = {
    bucket,
    key: key.key,
    size: stored.size,
    etag: stored.etag,
    content_type: stored.contentType,
    sha256: stored.sha256,
    message: `File uploaded successfully to s3://${bucket}/${key.storedKey}`
  }
  if (presignExpiry !== undefined) {
    answer.presigned_url = await app.store.presign(key.storedKey, 'GET', presignExpiry)
    answer.presigned_expires_in = presignExpiry
  }
  return answer
}

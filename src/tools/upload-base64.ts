// s3_upload_base64 — POST /upload/base64: {file_base64}, decoded strictly.
// A JSON body streams: it is read as it arrives (json-members.ts) and
// file_base64 is decoded on the way (base64-stream.ts). Once the body has
// named the key (s3_key or filename before file_base64) and 1 MiB is decoded,
// the bytes go on to S3 as they come; a key that comes only after the text
// (or only in the query, which the body may still overrule) holds the decoded
// bytes until the body ends. Either way nothing is committed before the
// whole body has been read and found good: the last bytes wait for its end.
// Form bodies (urlencoded, multipart fields) are read whole, as before.
import { once } from 'node:events'
import { PassThrough, Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { objectKey, presignExpiry, uploadLimit } from '../auth/scope.js'
import { AppError, payloadTooLarge } from '../errors.js'
import { storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { base64TooLarge, decodeBase64Strict, encodedLength } from '../transfer/base64.js'
import { Base64Decoder } from '../transfer/base64-stream.js'
import { Turns } from '../transfer/turns.js'
import { clientHungUp, ingest, storeBuffer, type Stored } from '../transfer/ingest.js'
import { jsonMembers } from '../transfer/json-members.js'
import { FIELD_MAX_BYTES } from './form-files.js'
import { formBodies } from './form-bodies.js'
import { COMMON_ERRORS, UPLOAD_PARAMS } from './params.js'
import { defineTool } from './registry.js'
import { uploadAnswer } from './upload-answer.js'

/** the longest a JSON body waits for its turn to be decoded (BASE64_STREAMS at once), then goes ahead */
export const BASE64_TURN_WAIT_MS = 10_000

/** decoded bytes held before they go on to S3 (a content_type may still come) */
export const STREAM_AFTER_BYTES = 1024 * 1024
/** the parameters an upload under way can no longer change */
const SHAPING = ['s3_key', 'filename', 'content_type'] as const

export default defineTool({
  name: 's3_upload_base64',
  summary: 'Upload base64 content to S3',
  description: 'Decode file_base64 and store it in the bucket. The key comes from s3_key, else filename; it must not contain control characters or "." / ".." path segments. ' +
    'Answers the key, size, ETag, content type and SHA-256. For large files upload from a URL instead.',
  tag: 'upload',
  permission: 'write',
  annotations: { readOnly: false, destructive: true, idempotent: true },
  // the key first: a JSON body built in this order streams (Dify's custom tools follow the schema's order)
  params: {
    ...UPLOAD_PARAMS,
    file_base64: { type: 'string', description: 'The file content as base64; a "data:<mime>;base64," prefix is accepted.', example: 'SGVsbG8sIFMzIQ==' }
  },
  openapi: { method: 'post', path: '/upload/base64', body: 'json', required: ['file_base64'], answer: { status: 201, description: 'Stored.', schema: 'UploadResult' }, errors: [...COMMON_ERRORS, 413] },
  setup: async (scope) => {
    // JSON stays a stream for the handler; the forms are parsed whole
    scope.addContentTypeParser('application/json', (_request, _payload, done) => { done(null) })
    await formBodies(scope, bodyLimit(scope))
  },
  routes: (app) => {
    // a few bodies at a time: decoding is this thread's work, and each holds its part buffers
    const turns = new Turns(app.config.base64Streams, BASE64_TURN_WAIT_MS)
    return [{
      method: 'POST',
      path: '/upload/base64',
      params: 'query',
      options: { bodyLimit: bodyLimit(app) },
      handler: async (request, reply) => {
        const query = request.query as Record<string, unknown>
        if (request.body !== undefined) return await wholeUpload(app, request, reply, new Params(request.body as Record<string, unknown>, query))
        const done = await turns.take(clientGone(request))
        // its text's strings: full GCs while it streams (memory-pacer.ts)
        app.pacer?.textBegin()
        try {
          return await streamedUpload(app, request, reply, query)
        } finally {
          app.pacer?.textEnd()
          done()
        }
      }
    }]
  }
})

/** aborted when the client hangs up while waiting for its turn */
function clientGone (request: FastifyRequest): AbortSignal {
  const gone = new AbortController()
  const onClose = (): void => { if (!request.raw.complete) gone.abort() }
  request.raw.once('close', onClose)
  request.raw.once('end', () => { request.raw.off('close', onClose) })
  return gone.signal
}

/** the JSON text holds the base64 (4/3 of the bytes) plus line breaks and fields */
function bodyLimit (app: FastifyInstance): number {
  return Math.ceil(encodedLength(app.config.base64MaxBytes) * 1.05) + 1024 * 1024
}

function decodedLimit (app: FastifyInstance, request: FastifyRequest): number {
  return Math.min(app.config.base64MaxBytes, uploadLimit(request))
}

/** a body already parsed (a form): decoded at once */
async function wholeUpload (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, params: Params): Promise<unknown> {
  const key = objectKey(request, [params.string('s3_key'), params.string('filename')])
  const sha256 = params.sha256()
  const expiry = presignExpiry(request, params)
  const text = params.string('file_base64')
  if (text === undefined) throw new AppError('MISSING_FILE', 'Missing required parameter: file_base64')
  const { data, mimeType } = decodeBase64Strict(text, decodedLimit(app, request))
  const contentType = storedContentType(params.contentType(), mimeType, key.key)
  const stored = await storeBuffer(app.store, key.storedKey, data, contentType, sha256)
  return await reply.code(201).send(await uploadAnswer(app, key, stored, expiry))
}

/** the upload under way once the key is known and the first MiB decoded */
interface Streaming {
  sink: PassThrough
  stored: Promise<Stored>
  /** its failure, once it failed */
  failure: unknown
  /** the shaping parameters it started with */
  shape: string
  key: ReturnType<typeof objectKey>
}

async function streamedUpload (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, query: Record<string, unknown>): Promise<unknown> {
  const limit = decodedLimit(app, request)
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > bodyLimit(app)) throw payloadTooLarge(bodyLimit(app))
  const fields: Record<string, unknown> = {}
  const params = (): Params => new Params(fields, query)
  const shapeOf = (p: Params): string => JSON.stringify(SHAPING.map((name) => p.value(name) ?? null))
  const decoder = new Base64Decoder(limit, () => base64TooLarge(limit))
  let text = false
  let fileChars = 0
  let held: Buffer[] = []
  let heldBytes = 0
  let streaming: Streaming | undefined

  /** where the bytes go, and as what, by the parameters `p` */
  const destination = (p: Params): { key: ReturnType<typeof objectKey>, contentType: string | undefined } => {
    const key = objectKey(request, [p.string('s3_key'), p.string('filename')])
    return { key, contentType: storedContentType(p.contentType(), decoder.mimeType, key.key) }
  }
  const start = (): Streaming => {
    const p = params()
    const { key, contentType } = destination(p)
    const sink = new PassThrough()
    for (const piece of held) sink.write(piece)
    held = []
    // sha256 may still come: the guard reads it when the bytes are in
    // one part in flight while the next fills: decoding here sets the pace, and 5 MiB less per upload
    const stored = ingest({ store: app.store, storedKey: key.storedKey, source: sink, request: request.raw, contentType, maxBytes: limit, partsInFlight: 1, sha256: () => params().sha256() })
    const state: Streaming = { sink, key, shape: shapeOf(p), failure: undefined, stored }
    stored.catch((err: unknown) => { state.failure = err })
    return state
  }
  const emit = async (bytes: Buffer | undefined): Promise<void> => {
    if (bytes === undefined || bytes.length === 0) return
    if (streaming === undefined) {
      held.push(bytes)
      heldBytes += bytes.length
      const named = fields.s3_key !== undefined || fields.filename !== undefined
      if (heldBytes >= STREAM_AFTER_BYTES && named) streaming = start()
      return
    }
    if (streaming.failure !== undefined) throw streaming.failure
    if (!streaming.sink.write(bytes)) await Promise.race([once(streaming.sink, 'drain'), streaming.stored.catch(() => {})])
  }

  try {
    for await (const member of jsonMembers(request.raw, { streamed: 'file_base64', maxBodyBytes: bodyLimit(app), maxFieldChars: FIELD_MAX_BYTES, cut: clientHungUp })) {
      if (member.type === 'field') {
        // as JSON.parse: a later duplicate wins
        fields[member.name] = member.value
        if (streaming !== undefined && SHAPING.includes(member.name as typeof SHAPING[number]) && shapeOf(params()) !== streaming.shape) {
          throw new AppError('INVALID_PARAMETER', `${member.name} came after file_base64, whose bytes were already on their way to S3 under the parameters before it; send s3_key, filename and content_type before file_base64`)
        }
      } else if (member.type === 'start') {
        if (text) throw new AppError('INVALID_PARAMETER', 'file_base64 is given twice')
        text = true
        delete fields.file_base64
      } else if (member.type === 'text') {
        fileChars += member.text.length
        await emit(decoder.write(member.text))
      } else {
        await emit(decoder.end())
      }
    }
    const p = params()
    if (!text || fileChars === 0) {
      // not in the body as text: the body's other value (a wrong type) or the query's
      return await wholeUpload(app, request, reply, p)
    }
    // every parameter is in: refuse a bad one before the last bytes go
    const expiry = presignExpiry(request, p)
    p.sha256()
    if (streaming === undefined) {
      const { key, contentType } = destination(p)
      const source = Readable.from(held)
      const stored = await ingest({ store: app.store, storedKey: key.storedKey, source, request: request.raw, size: heldBytes, contentType, maxBytes: limit, sha256: p.sha256() })
      return await reply.code(201).send(await uploadAnswer(app, key, stored, expiry))
    }
    streaming.sink.end()
    const stored = await streaming.stored
    return await reply.code(201).send(await uploadAnswer(app, streaming.key, stored, expiry))
  } catch (err) {
    if (streaming !== undefined) {
      // nothing may be committed: fail the upload and wait until S3 has let it go
      streaming.sink.destroy(err instanceof Error ? err : new Error(String(err)))
      await streaming.stored.catch(() => {})
    }
    throw err
  }
}

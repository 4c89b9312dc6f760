// Every file part of a multipart form, stored (API.md Part 2 "Several files in
// one form"): each part streams to its own key through ingest(), with its own
// key rules, checksum and size limit; one bad file fails alone and is listed
// in `failed`; nothing is dropped without a `failed` entry. Fields that shape
// the upload come before the first file part (Dify and curl send them first);
// later ones are ignored. A form that turns bad (a hostile field name, a
// limit, a malformed part) stops at once: no file part after the fault is
// stored (src/transfer/form-parts.ts). A form that breaks after files were
// stored cannot undo them: the answer lists them and reports the break.
import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { presignExpiry, uploadLimit } from '../auth/scope.js'
import { AppError } from '../errors.js'
import { storedContentType } from '../http/headers.js'
import { Params } from '../params.js'
import { asAppError } from '../plugins/errors.js'
import type { ObjectKey } from '../s3/keys.js'
import { formParts, type FormFile, type FormLimits } from '../transfer/form-parts.js'
import { ingest } from '../transfer/ingest.js'
import { uploadAnswer, type UploadAnswer } from './upload-answer.js'

export const FIELD_MAX_BYTES = 64 * 1024
/** room for multipart framing and the fields sent beside the files */
export const MULTIPART_OVERHEAD = 1024 * 1024

/**
 * The route scope of an upload tool: it parses nothing itself (a raw body
 * stays a stream for the handler), JSON for URL ingestion, and multipart.
 */
export async function uploadScope (scope: FastifyInstance): Promise<void> {
  scope.removeAllContentTypeParsers()
  scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, scope.getDefaultJsonParser('error', 'error'))
  scope.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
  // for its content-type parser and request.isMultipart() only: the parts,
  // and the limits, are formParts()'s
  await scope.register(multipart)
}

export function formLimits (maxUploadBytes: number): FormLimits {
  return {
    // above the upload limit: busboy silently truncates at fileSize, so the
    // UploadGuard must be the one that trips (and fails the upload)
    fileSize: maxUploadBytes + 1,
    fieldSize: FIELD_MAX_BYTES,
    fields: 64,
    files: 16,
    parts: 128,
    headerPairs: 64
  }
}
/** Dify's HTTP node adds this empty part when no file variable resolved */
export const PLACEHOLDER_PART = '__multipart_placeholder__'

export interface FailedFile {
  /** the part's filename; null for a failure of the form itself */
  filename: string | null
  code: string
  message: string
}

export interface FormFiles {
  /** the fields before the first file part */
  fields: Record<string, string>
  files: UploadAnswer[]
  failed: FailedFile[]
  /** file parts seen (stored or failed) */
  parts: number
}

export interface FormFileRules {
  /** the key of the `index`-th file part (0-based); an AppError fails that file alone */
  keyFor: (params: Params, part: FormFile, index: number) => ObjectKey
  /** whether sha256 and content_type apply (to the first file part only) */
  singleFileParams: (index: number) => boolean
  /** a failure of the first file part fails the request (/upload/file), instead of being listed */
  firstFailureThrows: boolean
}

function failure (part: FormFile | undefined, err: AppError): FailedFile {
  return { filename: part?.filename !== undefined && part.filename !== '' ? part.filename : null, code: err.code, message: err.message }
}

export async function storeFormFiles (request: FastifyRequest, query: Record<string, unknown>, rules: FormFileRules): Promise<FormFiles> {
  const app = request.server
  const fields: Record<string, string> = {}
  const files: UploadAnswer[] = []
  const failed: FailedFile[] = []
  let index = 0
  try {
    for await (const part of formParts(request.raw, formLimits(app.config.maxUploadBytes))) {
      if (part.type === 'field') {
        if (part.valueTruncated) throw new AppError('PAYLOAD_TOO_LARGE', `The field ${part.fieldname} is longer than ${FIELD_MAX_BYTES} bytes`)
        if (index === 0 && !Object.hasOwn(fields, part.fieldname)) fields[part.fieldname] = part.value
        continue
      }
      if (part.fieldname === PLACEHOLDER_PART) {
        part.file.resume()
        continue
      }
      const at = index++
      const params = new Params(fields, query)
      try {
        const key = rules.keyFor(params, part, at)
        const single = rules.singleFileParams(at)
        const sha256 = single ? params.sha256() : undefined
        const expiry = presignExpiry(request, params)
        const contentType = storedContentType(single ? params.contentType() : undefined, part.mimetype, key.key)
        // a part busboy has read to its end has a known length; an open one a likely one
        const { exact, likely } = part.length()
        const stored = await ingest({ store: app.store, storedKey: key.storedKey, source: part.file, request: request.raw, size: exact, likelySize: likely, contentType, maxBytes: uploadLimit(request), sha256 })
        files.push(await uploadAnswer(app, key, stored, expiry))
      } catch (err) {
        if (!(err instanceof AppError) || (at === 0 && rules.firstFailureThrows)) throw err
        // a permission refused is the request's, not one file's
        if (err.code === 'FORBIDDEN') throw err
        if (!part.file.readableEnded) part.file.resume()
        failed.push(failure(part, err))
      }
    }
  } catch (err) {
    if (files.length === 0) throw err
    // what was stored stays stored: the answer says so, and what broke after it
    const broke = asAppError(err)
    failed.push({ filename: null, code: broke.code, message: `The form broke after ${files.length} file(s) were stored (they stay): ${broke.message}` })
  }
  return { fields, files, failed, parts: index }
}

/** Dify's array[file] parts and curl -F: the key of a file under a folder */
export function inFolder (folder: string, part: FormFile): string | undefined {
  const name = part.filename?.split(/[\\/]/).at(-1)
  if (name === undefined || name === '') return undefined
  const base = folder.replace(/\/+$/, '')
  return base === '' ? name : `${base}/${name}`
}

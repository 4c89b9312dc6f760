// The parts of a multipart/form-data body, in order, as busboy parses them —
// and a failure the moment the form turns bad. @fastify/multipart records
// some refusals (a field named __proto__ or constructor, a JSON field that
// does not parse, a part limit) and raises them only when iteration ends: a
// file part after such a field was handed over, stored, and only then was the
// form refused. Here a part is handed over only while everything before it
// was good, so a rejected form writes nothing it has not already answered
// for; a file part is committed by its consumer on its stream's 'end', which
// busboy emits once it has parsed the boundary after it (the form is good up
// to the end of that part). Fields are plain text: nothing is parsed as JSON.
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { Busboy, type BusboyHeaders, type BusboyInstance } from '@fastify/busboy'
import { AppError } from '../errors.js'

export interface FormField { type: 'field', fieldname: string, value: string, valueTruncated: boolean }
export interface FormFile {
  type: 'file'
  fieldname: string
  filename: string | undefined
  mimetype: string
  file: Readable
  /**
   * The part's length: `exact` once busboy has parsed its end; else, for a
   * request with a Content-Length, `likely`: what is left of the body but the
   * closing boundary — the length if it is the form's last part (Dify's
   * shape for one file, curl's with its fields first), more otherwise.
   */
  length: () => { exact?: number, likely?: number }
}
export type FormPart = FormField | FormFile

export interface FormLimits { fieldSize: number, fields: number, files: number, parts: number, fileSize: number, headerPairs: number }

/** busboy has pushed the part's last byte (its consumer may not have read it yet) */
const complete = (stream: Readable): boolean => stream.readableEnded || (stream as Readable & { _readableState?: { ended?: boolean } })._readableState?.ended === true

/** bytes busboy holds back because they may begin a boundary (its search's lookbehind), if it tells */
function heldBack (parser: BusboyInstance): number {
  const held = (parser as unknown as { _parser?: { parser?: { _bparser?: { _lookbehind_size?: unknown } } } })._parser?.parser?._bparser?._lookbehind_size
  return typeof held === 'number' ? held : 0
}

/** the body's length when the request declares one (no Transfer-Encoding) */
function declaredLength (request: IncomingMessage): number | undefined {
  if (request.headers['transfer-encoding'] !== undefined) return undefined
  const length = Number(request.headers['content-length'])
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined
}

/** the boundary of a multipart Content-Type (RFC 2046 §5.1.1) */
function boundaryOf (contentType: string | undefined): string | undefined {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType ?? '')
  return match === null ? undefined : match[1] ?? match[2]
}

/** a name that would overwrite an Object.prototype property where forms become objects */
const hostileName = (name: string): boolean => name in Object.prototype

export async function * formParts (request: IncomingMessage, limits: FormLimits): AsyncGenerator<FormPart> {
  let parser: BusboyInstance
  try {
    parser = new Busboy({ headers: request.headers as BusboyHeaders, limits })
  } catch (err) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Not a multipart/form-data body: ${(err as Error).message}`)
  }
  // the bytes busboy has taken in: with those it pushed into a file, the
  // offset where that file began (while it lasts)
  let parsed = 0
  const write = parser._write.bind(parser)
  parser._write = (chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void => {
    parsed += chunk.length
    write(chunk, encoding, callback)
  }
  const declared = declaredLength(request)
  const boundary = boundaryOf(request.headers['content-type'])
  // "\r\n--" boundary "--\r\n": how Dify (httpx), curl, browsers and undici end a form
  const closing = boundary === undefined ? undefined : boundary.length + 8
  const queue: Array<FormPart | AppError | null> = []
  let wake: (() => void) | undefined
  let current: Readable | undefined
  let failed = false
  const push = (item: FormPart | AppError | null): void => {
    queue.push(item)
    wake?.()
    wake = undefined
  }
  const fail = (err: AppError): void => {
    if (failed) return
    failed = true
    // a file still arriving fails with the form: its consumer stores nothing
    if (current !== undefined && !complete(current)) current.destroy(err)
    push(err)
  }
  // every event below but 'error' starts a new part: busboy has parsed the
  // boundary that ends the file before it, whose last bytes are in (its stream
  // ends a tick later). A fault there comes after that file, which stays whole.
  const nextPart = (): void => { current = undefined }
  parser.on('field', (fieldname: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
    nextPart()
    if (failed) return
    if (hostileName(fieldname)) return fail(new AppError('INVALID_PARAMETER', `A form field may not be named ${JSON.stringify(fieldname.slice(0, 40))}`))
    push({ type: 'field', fieldname, value, valueTruncated })
  })
  parser.on('file', (fieldname: string, file: Readable, filename: string | undefined, _encoding: string, mimetype: string) => {
    nextPart()
    if (failed) {
      file.resume()
      return
    }
    if (hostileName(fieldname)) {
      file.resume()
      return fail(new AppError('INVALID_PARAMETER', `A form part may not be named ${JSON.stringify(fieldname.slice(0, 40))}`))
    }
    current = file
    // its consumer listens too; this one keeps a late error from going unheard
    file.on('error', () => {})
    const bytesRead = (): number => (file as Readable & { bytesRead?: number }).bytesRead ?? 0
    const length = (): { exact?: number, likely?: number } => {
      if (complete(file)) return { exact: bytesRead() }
      if (current !== file || declared === undefined || closing === undefined) return {}
      const before = parsed - bytesRead() - heldBack(parser)
      const likely = declared - before - closing
      return likely >= bytesRead() ? { likely } : {}
    }
    push({ type: 'file', fieldname, filename, mimetype, file, length })
  })
  parser.on('partsLimit', () => { nextPart(); fail(new AppError('PAYLOAD_TOO_LARGE', `The form has more than ${limits.parts} parts`)) })
  parser.on('filesLimit', () => { nextPart(); fail(new AppError('PAYLOAD_TOO_LARGE', `The form has more than ${limits.files} files`)) })
  parser.on('fieldsLimit', () => { nextPart(); fail(new AppError('PAYLOAD_TOO_LARGE', `The form has more than ${limits.fields} fields`)) })
  parser.on('error', (err: Error) => { fail(new AppError('MISSING_FILE', `Malformed multipart body: ${err.message}`)) })
  parser.on('finish', () => { if (!failed) push(null) })
  const cut = (): void => { if (!request.complete) fail(new AppError('MISSING_FILE', 'The request ended before its body was complete')) }
  request.on('close', cut)
  request.on('error', cut)
  request.pipe(parser)
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => { wake = resolve })
      const item = queue.shift() as FormPart | AppError | null
      if (item === null) return
      if (item instanceof AppError) throw item
      yield item
    }
  } finally {
    request.off('close', cut)
    request.off('error', cut)
    if (!request.complete) {
      // an answer goes out before the rest of the body: drain it, never pipe errors back
      request.unpipe(parser)
      request.resume()
    }
  }
}

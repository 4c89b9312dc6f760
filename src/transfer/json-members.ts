// The top-level members of a JSON object body, read as it arrives (stream-json's
// tokenizer): short members whole, one named string member in pieces as its
// text comes, so that a JSON body carrying a file never sits whole in memory.
// The body is refused as Fastify's JSON parser refuses it — not an object,
// malformed, a `__proto__` or `constructor` key at any depth — and beyond what
// that parser checks: more than `maxBodyBytes`, a member's text over
// `maxFieldChars`. Nested objects and arrays are kept as empty ones of their
// kind: enough for a parameter's type check, never for their content.
import type { Readable } from 'node:stream'
import parser from 'stream-json/parser.js'
import { AppError } from '../errors.js'

export type JsonMember =
  | { type: 'field', name: string, value: unknown }
  /** the streamed member begins, and pieces of its text follow until its end */
  | { type: 'start', name: string }
  | { type: 'text', text: string }
  | { type: 'end' }

export interface JsonMemberOptions {
  /** the member whose string value comes in pieces */
  streamed: string
  maxBodyBytes: number
  /** a member's longest text (string value) beside the streamed one */
  maxFieldChars: number
  /** the error for a body that stops before its end (the client hung up) */
  cut: () => AppError
}

interface Token { name: string, value?: unknown }

const HOSTILE_KEYS = new Set(['__proto__', 'constructor'])
/** characters of the streamed member handed on at once */
const TEXT_BATCH = 64 * 1024

function invalidJson (why: string): AppError {
  return new AppError('INVALID_PARAMETER', `The body is not a JSON object: ${why}`)
}

export async function * jsonMembers (body: Readable, options: JsonMemberOptions): AsyncGenerator<JsonMember> {
  const { streamed, maxBodyBytes, maxFieldChars } = options
  const tokens = parser.asStream({ packKeys: true, streamKeys: false, packStrings: false, streamStrings: true, packNumbers: true, streamNumbers: false })
  let read = 0
  const stop = (err: AppError): void => {
    body.unpipe(tokens)
    tokens.destroy(err)
  }
  const onData = (chunk: Buffer): void => {
    read += chunk.length
    if (read > maxBodyBytes) stop(new AppError('PAYLOAD_TOO_LARGE', `The body is larger than ${maxBodyBytes} bytes`))
  }
  // a body cut short ends the tokens with this error; pipe() forwards none
  const onCut = (): void => { if (!(body as Readable & { complete?: boolean }).complete) stop(options.cut()) }
  body.on('data', onData)
  body.on('error', onCut)
  body.on('close', onCut)
  body.pipe(tokens)

  let depth = 0
  /** the member being read at depth 1 */
  let key: string | undefined
  let text: string[] | undefined
  let textChars = 0
  let inStreamed = false
  let batch: string[] = []
  let batchChars = 0
  const flush = (): JsonMember => {
    const text = batch.join('')
    batch = []
    batchChars = 0
    return { type: 'text', text }
  }
  let sawObject = false
  try {
    for await (const token of tokens as AsyncIterable<Token>) {
      switch (token.name) {
        case 'startObject':
        case 'startArray':
          if (depth === 0) {
            if (token.name === 'startArray' || sawObject) throw invalidJson('a JSON object is expected')
            sawObject = true
          } else if (depth === 1 && key !== undefined) {
            yield { type: 'field', name: key, value: token.name === 'startObject' ? {} : [] }
          }
          depth++
          break
        case 'endObject':
        case 'endArray':
          depth--
          if (depth === 1) key = undefined
          break
        case 'keyValue': {
          const name = token.value as string
          if (HOSTILE_KEYS.has(name)) throw invalidJson(`a member may not be named ${JSON.stringify(name)}`)
          if (depth === 1) key = name
          break
        }
        case 'startString':
          if (depth === 0) throw invalidJson('a JSON object is expected')
          if (depth === 1 && key === streamed) {
            inStreamed = true
            yield { type: 'start', name: key }
          } else {
            text = []
            textChars = 0
          }
          break
        case 'stringChunk': {
          const piece = token.value as string
          if (inStreamed) {
            // the tokenizer's pieces are a few hundred characters: handed on in batches
            batch.push(piece)
            batchChars += piece.length
            if (batchChars >= TEXT_BATCH) yield flush()
          } else if (text !== undefined && depth === 1) {
            textChars += piece.length
            if (textChars > maxFieldChars) throw new AppError('PAYLOAD_TOO_LARGE', `The member ${JSON.stringify(key)} is longer than ${maxFieldChars} characters`)
            text.push(piece)
          }
          break
        }
        case 'endString':
          if (inStreamed) {
            inStreamed = false
            if (batchChars > 0) yield flush()
            yield { type: 'end' }
          } else if (depth === 1 && key !== undefined && text !== undefined) {
            yield { type: 'field', name: key, value: text.join('') }
          }
          text = undefined
          if (depth === 1) key = undefined
          break
        case 'numberValue':
        case 'trueValue':
        case 'falseValue':
        case 'nullValue':
          if (depth === 0) throw invalidJson('a JSON object is expected')
          if (depth === 1 && key !== undefined) {
            yield { type: 'field', name: key, value: token.name === 'numberValue' ? Number(token.value) : token.value }
            key = undefined
          }
          break
        default:
          break
      }
    }
    if (!sawObject) throw invalidJson('the body is empty')
  } catch (err) {
    if (err instanceof AppError) throw err
    // the tokenizer's own errors: malformed JSON, text after the object
    throw invalidJson((err as Error).message)
  } finally {
    body.off('data', onData)
    body.off('error', onCut)
    body.off('close', onCut)
    body.unpipe(tokens)
    tokens.destroy()
    // an answer goes out before the rest of the body: drain it
    if (!body.readableEnded) body.resume()
  }
}

// Raw HTTP for what fetch cannot do: hang up mid-body, send exact framing.
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** Send `chunks` with the given headers and read the whole answer. */
export async function send (url: string, options: { method?: string, headers?: Record<string, string | number>, chunks?: Array<Buffer | string> }): Promise<RawResponse> {
  return await new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'POST', headers: options.headers ?? {} }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    for (const chunk of options.chunks ?? []) req.write(chunk)
    req.end()
  })
}

/**
 * Start a request, write `bytes` of body, wait for `beforeHangUp` (or a
 * moment), then destroy the socket: a client that disconnects mid-upload.
 */
export async function hangUpMidBody (url: string, options: { headers: Record<string, string | number>, prefix?: Buffer | string, bytes: number, beforeHangUp?: () => Promise<void> }): Promise<void> {
  const req = http.request(url, { method: 'POST', headers: options.headers })
  req.on('error', () => {})
  req.on('response', (res) => { res.resume() })
  if (options.prefix !== undefined) req.write(options.prefix)
  const chunk = Buffer.alloc(64 * 1024, 7)
  for (let sent = 0; sent < options.bytes; sent += chunk.length) {
    if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve))
  }
  if (options.beforeHangUp !== undefined) await options.beforeHangUp()
  else await sleep(200)
  req.destroy()
}

export interface FormPart { name: string, value?: string, filename?: string, type?: string, data?: Buffer }

function multipartBody (boundary: string, parts: FormPart[]): Buffer {
  const pieces: Buffer[] = []
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`
    if (part.filename !== undefined) head += `; filename="${part.filename}"`
    head += '\r\n'
    if (part.type !== undefined) head += `Content-Type: ${part.type}\r\n`
    pieces.push(Buffer.from(head + '\r\n'), part.data ?? Buffer.from(part.value ?? ''), Buffer.from('\r\n'))
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`))
  return Buffer.concat(pieces)
}

/** POST a multipart/form-data body built exactly as given (part order, empty filenames) */
export async function postMultipart (url: string, parts: FormPart[]): Promise<RawResponse> {
  const boundary = 'gw-test-boundary'
  const payload = multipartBody(boundary, parts)
  return await send(url, { headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': payload.length }, chunks: [payload] })
}

// file_url ingestion, the fetching half: resolve a Dify file URL (DIFY.md §3),
// hold it to the SSRF policy, and open the upstream response as a stream.
// Only the origins an operator allowed are ever contacted, redirects included.
import contentDisposition from 'content-disposition'
import type { Agent, Dispatcher } from 'undici'
import type { Readable } from 'node:stream'
import type { FileUrlConfig } from '../config.js'
import { AppError, payloadTooLarge } from '../errors.js'

const REDIRECTS = new Set([301, 302, 303, 307, 308])

function notAllowed (message: string): AppError {
  return new AppError('URL_NOT_ALLOWED', message)
}

function fetchFailed (message: string, cause?: unknown): AppError {
  return new AppError('FETCH_FAILED', message, { cause })
}

/** A URL with its query and fragment cut: signed Dify URLs must not reach answers or logs. */
export function redactUrl (url: URL): string {
  return `${url.origin}${url.pathname}${url.search !== '' ? '?…' : ''}`
}

/** Check a URL against the policy: http(s), no userinfo, an allowed origin. */
export function checkAllowed (url: URL, policy: FileUrlConfig): URL {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw notAllowed(`file_url must be http or https (got ${url.protocol.replace(/:$/, '')})`)
  if (url.username !== '' || url.password !== '') throw notAllowed('file_url must not carry a user name or password')
  if (!policy.allowedOrigins.includes(url.origin)) {
    const allowed = policy.allowedOrigins.length > 0
      ? `allowed origins: ${policy.allowedOrigins.join(', ')}`
      : 'no origin is allowed: set DIFY_ENDPOINT and/or FILE_URL_ALLOWED_ORIGINS'
    throw notAllowed(`file_url origin ${url.origin} is not allowed (${allowed})`)
  }
  // Dify's own origin serves its API too: only its file paths, unless the operator opened the origin
  if (!policy.openOrigins.includes(url.origin) && policy.difyEndpoint !== undefined && !url.pathname.startsWith(difyFilesPath(policy.difyEndpoint))) {
    throw notAllowed(`file_url on Dify's origin must be a Dify file URL (${difyFilesPath(policy.difyEndpoint)}…); add ${url.origin} to FILE_URL_ALLOWED_ORIGINS to allow its other paths`)
  }
  return url
}

/** the path of Dify's file URLs under DIFY_ENDPOINT (which may carry a path of its own) */
function difyFilesPath (difyEndpoint: string): string {
  return new URL(difyEndpoint + '/files/').pathname
}

/**
 * Dify's own rule: an absolute http(s) URL as is; a path starting with
 * `/files/` joined to DIFY_ENDPOINT; anything else is refused.
 */
export function resolveFileUrl (raw: string, policy: FileUrlConfig): URL {
  const text = raw.trim()
  if (text.startsWith('/')) {
    if (!text.startsWith('/files/')) throw notAllowed('A relative file_url must start with /files/ (a Dify file URL)')
    if (policy.difyEndpoint === undefined) throw notAllowed('A relative file_url (/files/...) needs DIFY_ENDPOINT to be set on the gateway; or set FILES_URL in Dify so that it sends absolute URLs')
    const url = new URL(policy.difyEndpoint + text)
    // dot segments must not climb out of Dify's /files/ tree
    if (!url.pathname.startsWith(difyFilesPath(policy.difyEndpoint))) throw notAllowed('A relative file_url must stay under /files/')
    return checkAllowed(url, policy)
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // what came before any query or fragment: a signed URL's sign= is a credential
    const shown = text.replace(/[?#][\s\S]*$/, '').slice(0, 100)
    throw notAllowed(`file_url must be an absolute http(s) URL or a Dify /files/ path (got ${JSON.stringify(shown)}${shown.length < text.length ? ' and more, not shown' : ''})`)
  }
  return checkAllowed(url, policy)
}

export interface Fetched {
  /** the final URL, after redirects */
  url: URL
  body: Readable
  /** Content-Length, when the upstream declared it */
  size: number | undefined
  contentType: string | undefined
  /** the filename of the upstream's Content-Disposition, if any */
  filename: string | undefined
  /** the error to fail an ingestion with when the body breaks mid-way */
  failure: (err: unknown) => AppError
}

function header (headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

function dispositionFilename (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  try {
    const name = contentDisposition.parse(value).parameters.filename
    return name !== undefined && name.trim() !== '' ? name : undefined
  } catch {
    return undefined
  }
}

/** Dify sends the filename in Content-Disposition only when asked (DIFY.md §3). */
function askForFilename (url: URL, policy: FileUrlConfig): URL {
  if (policy.difyEndpoint === undefined || url.origin !== new URL(policy.difyEndpoint).origin) return url
  if (!url.pathname.includes('/files/') || url.searchParams.has('as_attachment')) return url
  const asked = new URL(url)
  asked.searchParams.set('as_attachment', 'true')
  return asked
}

function describeFailure (err: unknown, url: URL, timeoutMs: number): AppError {
  if (err instanceof AppError) return err
  const where = redactUrl(url)
  const code = (err as { code?: string }).code
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return fetchFailed(`file_url ${where}: no connection within ${timeoutMs} ms`, err)
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return fetchFailed(`file_url ${where}: no response within ${timeoutMs} ms`, err)
  if (code === 'UND_ERR_BODY_TIMEOUT') return fetchFailed(`file_url ${where}: the download stalled for ${timeoutMs} ms`, err)
  const reason = code !== undefined ? `${code}: ${(err as Error).message}` : (err as Error).message
  return fetchFailed(`file_url ${where} could not be fetched (${reason})`, err)
}

/** Stop reading an upstream body; the abort it causes is expected, not an error. */
export function discard (body: Readable): void {
  body.on('error', () => {})
  body.destroy()
}

interface Undici { agent: Agent, request: typeof import('undici').request }

/**
 * Fetches file URLs through one connection pool with the policy's timeouts.
 * undici is loaded on the first fetch: it is 5 MiB of every process's RSS
 * otherwise, and many deployments never fetch a URL.
 */
export class FileFetcher {
  private client: Promise<Undici> | undefined

  constructor (private readonly policy: FileUrlConfig) {}

  private async undici (): Promise<Undici> {
    this.client ??= import('undici').then(({ Agent, request }) => ({
      agent: new Agent({
        connect: { timeout: this.policy.timeoutMs },
        headersTimeout: this.policy.timeoutMs,
        bodyTimeout: this.policy.timeoutMs,
        connections: 64
      }),
      request
    }))
    return await this.client
  }

  /**
   * Open `url` (already resolved and allowed): follow redirects within the
   * allowed origins, refuse error answers and bodies over `maxBytes`.
   */
  async open (start: URL, maxBytes: number): Promise<Fetched> {
    let url = askForFilename(start, this.policy)
    const { agent, request } = await this.undici()
    for (let hop = 0; ; hop++) {
      let response: Dispatcher.ResponseData
      try {
        response = await request(url, {
          dispatcher: agent,
          method: 'GET',
          headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'dify-s3-gateway' }
        })
      } catch (err) {
        throw describeFailure(err, url, this.policy.timeoutMs)
      }
      const { statusCode, headers, body } = response
      if (REDIRECTS.has(statusCode)) {
        body.dump().catch(() => {})
        const location = header(headers, 'location')
        if (location === undefined) throw fetchFailed(`file_url ${redactUrl(url)} answered ${statusCode} without a Location`)
        if (hop >= this.policy.maxRedirects) throw fetchFailed(`file_url ${redactUrl(start)}: more than ${this.policy.maxRedirects} redirects`)
        let next: URL
        try {
          next = new URL(location, url)
        } catch {
          throw fetchFailed(`file_url ${redactUrl(url)} redirected to an invalid URL`)
        }
        try {
          url = checkAllowed(next, this.policy)
        } catch (err) {
          throw notAllowed(`file_url ${redactUrl(start)} redirected outside the allowed origins: ${(err as Error).message}`)
        }
        continue
      }
      if (statusCode < 200 || statusCode > 299) {
        body.dump().catch(() => {})
        const hint = statusCode === 401 || statusCode === 403 ? ' (signed Dify file URLs expire after FILES_ACCESS_TIMEOUT, 5 minutes by default)' : ''
        throw fetchFailed(`file_url ${redactUrl(url)} answered HTTP ${statusCode}${hint}`)
      }
      const length = header(headers, 'content-length')
      const size = length !== undefined && /^\d+$/.test(length) && header(headers, 'content-encoding') === undefined ? Number(length) : undefined
      if (size !== undefined && size > maxBytes) {
        discard(body)
        throw payloadTooLarge(maxBytes, `file at file_url (${size} bytes)`)
      }
      return {
        url,
        body,
        size,
        contentType: header(headers, 'content-type'),
        filename: dispositionFilename(header(headers, 'content-disposition')),
        failure: (err) => describeFailure(err, url, this.policy.timeoutMs)
      }
    }
  }

  async close (): Promise<void> {
    if (this.client !== undefined) await (await this.client).agent.close()
  }
}

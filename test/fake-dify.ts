// A local HTTP server that plays Dify's API for file URLs (DIFY.md §3): signed
// /files/<id>/file-preview and /files/tools/<id>.<ext> URLs, which send the
// filename in Content-Disposition only with as_attachment=true, plus the
// misbehaviours a fetcher must survive (errors, stalls, cut bodies, redirects).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StoredFile {
  data: Buffer
  filename: string
  mimeType: string
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void

export interface FakeDify {
  /** http://127.0.0.1:<port> */
  origin: string
  port: number
  /** every request's path and query, in order */
  requests: URL[]
  files: Map<string, StoredFile>
  /** extra routes by path */
  routes: Map<string, Handler>
  /** a signed relative URL, as Dify renders {{#start.doc.url#}} without FILES_URL */
  signedPath: (id: string, kind?: 'preview' | 'tool') => string
  close: () => Promise<void>
}

export const VALID_SIGN = 'c2lnbmF0dXJl'

function attachment (filename: string): string {
  return `attachment; filename="${filename.replace(/[^\x20-\x7e]|"/g, '_')}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}

export async function startFakeDify (): Promise<FakeDify> {
  const requests: URL[] = []
  const files = new Map<string, StoredFile>()
  const routes = new Map<string, Handler>()

  const serveFile = (res: ServerResponse, url: URL, file: StoredFile): void => {
    // Dify checks the signature and its age; the test only checks the signature
    if (url.searchParams.get('sign') !== VALID_SIGN || url.searchParams.get('timestamp') === null) {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"code":"forbidden","message":"File access denied"}')
      return
    }
    const headers: Record<string, string | number> = { 'content-type': file.mimeType, 'content-length': file.data.length }
    if (url.searchParams.get('as_attachment') === 'true') headers['content-disposition'] = attachment(file.filename)
    res.writeHead(200, headers).end(file.data)
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake-dify')
    requests.push(url)
    const route = routes.get(url.pathname)
    if (route !== undefined) return route(req, res, url)
    const preview = /^\/files\/([\w-]+)\/file-preview$/.exec(url.pathname)
    const tool = /^\/files\/tools\/([\w-]+)\.\w+$/.exec(url.pathname)
    const file = files.get(preview?.[1] ?? tool?.[1] ?? '')
    if (file !== undefined) return serveFile(res, url, file)
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"not_found"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    files,
    routes,
    signedPath: (id, kind = 'preview') => {
      const ext = files.get(id)?.filename.split('.').pop() ?? 'bin'
      const path = kind === 'preview' ? `/files/${id}/file-preview` : `/files/tools/${id}.${ext}`
      return `${path}?timestamp=${Math.floor(Date.now() / 1000)}&nonce=abc123&sign=${VALID_SIGN}`
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

// The bare relay: the floor any Node hop pays on this machine. It pipes a
// request body to the presigned URL named in X-Target (a PUT, with the length
// from Content-Length or, for chunked bodies, X-Content-Length) and pipes a
// presigned GET back. No parsing, no hashing, no logging.
import http from 'node:http'

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

const server = http.createServer((req, res) => {
  const target = req.headers['x-target']
  if (typeof target !== 'string') {
    res.writeHead(400).end('X-Target missing')
    return
  }
  const length = req.headers['content-length'] ?? req.headers['x-content-length']
  const upstream = http.request(target, {
    method: req.method === 'GET' ? 'GET' : 'PUT',
    agent,
    headers: typeof length === 'string' ? { 'content-length': length } : {}
  }, (answer) => {
    const headers: http.OutgoingHttpHeaders = { 'content-type': answer.headers['content-type'] ?? 'application/octet-stream' }
    if (answer.headers['content-length'] !== undefined) headers['content-length'] = answer.headers['content-length']
    res.writeHead(answer.statusCode ?? 502, headers)
    answer.pipe(res)
  })
  upstream.on('error', () => { res.destroy() })
  req.pipe(upstream)
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address()
  if (address !== null && typeof address === 'object') console.log(`listening ${address.port}`)
})
process.on('SIGTERM', () => { server.close(); server.closeAllConnections() })

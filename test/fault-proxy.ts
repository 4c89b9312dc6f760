// A TCP proxy between the gateway and S3 that injects faults: refuse
// connections (S3 down), stall (accept, never answer), cut responses after N
// bytes, or answer every request with an HTTP 5xx (S3 failing).
import net from 'node:net'

export type FaultMode = { kind: 'pass' } | { kind: 'refuse' } | { kind: 'stall' } | { kind: 'cut', afterBytes: number } | { kind: 'status', status: number, code: string, times?: number }

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  endpoint: string
  mode: FaultMode
  /** switch mode: open connections are dropped, so pooled keep-alive sockets see the fault too */
  setMode: (mode: FaultMode) => Promise<void>
  /** requests answered in 'status' mode */
  statusAnswers: number
  /** bytes S3 sent through the proxy (all modes that forward) */
  downstreamBytes: number
  /** bytes the gateway sent to S3 through the proxy */
  upstreamBytes: number
  close: () => Promise<void>
}

export async function startFaultProxy (target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<net.Socket>()
  const proxy: FaultProxy = { endpoint: '', mode: { kind: 'pass' }, statusAnswers: 0, downstreamBytes: 0, upstreamBytes: 0, setMode: async () => {}, close: async () => {} }
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    const mode = proxy.mode
    if (mode.kind === 'stall') { client.resume(); return }
    if (mode.kind === 'status' && (mode.times === undefined || proxy.statusAnswers < mode.times)) {
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${mode.code}</Code><Message>injected</Message></Error>`
      client.on('data', (chunk: Buffer) => {
        // one answer per request line seen (requests are not pipelined)
        if (!/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(chunk.toString('latin1', 0, 200))) return
        proxy.statusAnswers++
        client.write(`HTTP/1.1 ${mode.status} Injected\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
        client.end()
      })
      return
    }
    const upstream = net.connect(Number(port), hostname)
    sockets.add(upstream)
    upstream.on('close', () => { sockets.delete(upstream); client.destroy() })
    upstream.on('error', () => { client.destroy() })
    client.on('close', () => upstream.destroy())
    client.pipe(upstream)
    client.on('data', (chunk: Buffer) => { proxy.upstreamBytes += chunk.length })
    upstream.on('data', (chunk: Buffer) => { proxy.downstreamBytes += chunk.length })
    if (mode.kind === 'cut' && mode.afterBytes >= 0) {
      let sent = 0
      upstream.on('data', (chunk: Buffer) => {
        const room = mode.afterBytes - sent
        if (room > 0) client.write(room >= chunk.length ? chunk : chunk.subarray(0, room))
        sent += chunk.length
        if (sent >= mode.afterBytes) { client.destroy(); upstream.destroy() }
      })
    } else {
      upstream.pipe(client)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const listenPort = (server.address() as net.AddressInfo).port
  proxy.endpoint = `http://127.0.0.1:${listenPort}`
  proxy.setMode = async (mode) => {
    proxy.mode = mode
    for (const socket of sockets) socket.destroy()
    // refuse: nothing listens, as when S3 is down
    if (mode.kind === 'refuse' && server.listening) await new Promise<void>((resolve) => server.close(() => { resolve() }))
    if (mode.kind !== 'refuse' && !server.listening) await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve))
  }
  proxy.close = async () => {
    for (const socket of sockets) socket.destroy()
    if (server.listening) await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
  return proxy
}

// S3 behind TLS signed by a private CA: trusted with S3_CA_BUNDLE(_FILE), and
// without it a clear error naming certificate verification — never a silent
// insecure fallback.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { after, before, describe, it } from 'node:test'
import { fetchJson, startGateway, startTestS3, uniqueKey, type TestS3 } from './helper.js'

/** a throwaway CA and a certificate for 127.0.0.1 / localhost signed by it */
function makeCertificates (dir: string): { ca: string, key: string, cert: string } {
  const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }) }
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=gateway test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext')
  return { ca: join(dir, 'ca.pem'), key: join(dir, 'server.key'), cert: join(dir, 'server.pem') }
}

describe('S3 over TLS with a private CA', () => {
  let s3: TestS3
  let proxy: tls.Server
  let httpsEndpoint: string
  let files: { ca: string, key: string, cert: string }

  before(async () => {
    s3 = await startTestS3()
    files = makeCertificates(mkdtempSync(join(tmpdir(), 'gw-tls-')))
    const target = new URL(s3.endpoint)
    proxy = tls.createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (client) => {
      const upstream = net.connect(Number(target.port), target.hostname)
      client.on('error', () => { upstream.destroy() })
      upstream.on('error', () => { client.destroy() })
      client.pipe(upstream).pipe(client)
    })
    proxy.on('tlsClientError', () => {})
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    httpsEndpoint = `https://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`
  })
  after(async () => {
    await new Promise((resolve) => proxy.close(resolve))
    await s3.close()
  })

  for (const [how, env] of [
    ['S3_CA_BUNDLE_FILE', (): Record<string, string> => ({ S3_CA_BUNDLE_FILE: files.ca })],
    ['S3_CA_BUNDLE', (): Record<string, string> => ({ S3_CA_BUNDLE: readFileSync(files.ca, 'utf8') })]
  ] as const) {
    it(`works with the CA given as ${how}`, async () => {
      const gw = await startGateway({ ...s3, endpoint: httpsEndpoint }, env())
      try {
        assert.equal((await fetch(`${gw.url}/readyz`)).status, 200)
        const key = uniqueKey('tls.txt')
        const up = await fetchJson(`${gw.url}/upload/file?s3_key=${encodeURIComponent(key)}`, { method: 'POST', body: 'over tls', headers: { 'content-type': 'text/plain' } })
        assert.equal(up.status, 201)
        assert.equal(await (await fetch(`${gw.url}/download/file?s3_key=${encodeURIComponent(key)}`)).text(), 'over tls')
      } finally {
        await gw.close()
      }
    })
  }

  it('without the CA: 502 UPSTREAM_ERROR naming certificate verification, and /readyz 503', async () => {
    const gw = await startGateway({ ...s3, endpoint: httpsEndpoint })
    try {
      const { status, body } = await fetchJson(`${gw.url}/download/file?s3_key=anything.txt`)
      assert.equal(status, 502)
      assert.equal(body.code, 'UPSTREAM_ERROR')
      assert.match(String(body.message), /certificate verification failed.*S3_CA_BUNDLE/)
      const up = await fetchJson(`${gw.url}/upload/file?s3_key=x.txt`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })
      assert.equal(up.status, 502)
      assert.equal(up.body.code, 'UPSTREAM_ERROR')
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 503)
    } finally {
      await gw.close()
    }
  })
})

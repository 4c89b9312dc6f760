import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError, loadConfig, type FileUrlConfig } from '../../src/config.js'
import { AppError } from '../../src/errors.js'
import { redactUrl, resolveFileUrl } from '../../src/dify/file-url.js'

const S3 = { S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 's', BUCKET_NAME: 'dify' }

function policy (env: Record<string, string>): FileUrlConfig {
  return loadConfig({ ...S3, ...env }).fileUrl
}

function refused (raw: string, p: FileUrlConfig): string {
  try {
    resolveFileUrl(raw, p)
  } catch (err) {
    assert.ok(err instanceof AppError)
    assert.equal(err.code, 'URL_NOT_ALLOWED')
    return err.message
  }
  assert.fail(`accepted ${raw}`)
}

describe('file URL policy', () => {
  it('allows the origin of DIFY_ENDPOINT and the extra origins, nothing by default', () => {
    assert.deepEqual(policy({}).allowedOrigins, [])
    assert.deepEqual(policy({ DIFY_ENDPOINT: 'http://api:5001/' }).allowedOrigins, ['http://api:5001'])
    assert.deepEqual(policy({ DIFY_ENDPOINT: 'https://dify.example.com/', FILE_URL_ALLOWED_ORIGINS: 'https://files.example.com, http://minio:9000/' }).allowedOrigins,
      ['https://dify.example.com', 'https://files.example.com', 'http://minio:9000'])
    assert.equal(policy({ DIFY_ENDPOINT: 'http://api:5001/' }).difyEndpoint, 'http://api:5001')
  })

  it('refuses bad origins at start, in one line', () => {
    for (const value of ['ftp://x', 'http://x/path', 'not a url']) {
      assert.throws(() => policy({ FILE_URL_ALLOWED_ORIGINS: value }), (err) => err instanceof ConfigError && err.message.startsWith('FILE_URL_ALLOWED_ORIGINS'))
    }
    assert.throws(() => policy({ DIFY_ENDPOINT: 'api:5001' }), ConfigError)
  })

  it('resolves /files/ paths against DIFY_ENDPOINT (with or without a trailing slash, with a path)', () => {
    const p = policy({ DIFY_ENDPOINT: 'http://api:5001/' })
    assert.equal(resolveFileUrl('/files/abc/file-preview?timestamp=1&nonce=2&sign=3', p).href, 'http://api:5001/files/abc/file-preview?timestamp=1&nonce=2&sign=3')
    assert.equal(resolveFileUrl('  /files/tools/abc.png?sign=x ', p).href, 'http://api:5001/files/tools/abc.png?sign=x')
    const prefixed = policy({ DIFY_ENDPOINT: 'https://dify.example.com/api' })
    assert.equal(resolveFileUrl('/files/abc/file-preview', prefixed).href, 'https://dify.example.com/api/files/abc/file-preview')
    assert.match(refused('/files/../../admin', prefixed), /stay under \/files\//)
  })

  it('takes absolute URLs from allowed origins only, http(s) without userinfo', () => {
    const p = policy({ DIFY_ENDPOINT: 'http://api:5001', FILE_URL_ALLOWED_ORIGINS: 'https://cdn.example.com' })
    assert.equal(resolveFileUrl('https://cdn.example.com:443/a.pdf', p).href, 'https://cdn.example.com/a.pdf')
    assert.equal(resolveFileUrl('http://API:5001/files/x', p).origin, 'http://api:5001')
    assert.match(refused('http://cdn.example.com/a.pdf', p), /origin http:\/\/cdn.example.com is not allowed/)
    assert.match(refused('https://cdn.example.com.evil.net/a.pdf', p), /not allowed/)
    assert.match(refused('http://api:5002/files/x', p), /not allowed/)
    assert.match(refused('http://u:p@api:5001/files/x', p), /user name or password/)
    assert.match(refused('gopher://api:5001/x', p), /http or https/)
    assert.match(refused('/etc/passwd', p), /must start with \/files\//)
    assert.match(refused('files/x', p), /absolute http\(s\) URL/)
    assert.match(refused('/files/x', policy({})), /DIFY_ENDPOINT/)
    assert.match(refused('http://127.0.0.1/x', policy({})), /no origin is allowed/)
  })

  it('holds absolute URLs on Dify\'s origin to its /files/ paths, unless the origin is allowed by FILE_URL_ALLOWED_ORIGINS', () => {
    const p = policy({ DIFY_ENDPOINT: 'http://api:5001' })
    assert.equal(resolveFileUrl('http://api:5001/files/abc/file-preview?sign=x', p).pathname, '/files/abc/file-preview')
    for (const path of ['/console/api/workspaces', '/v1/chat-messages', '/files', '/filesx/a', '/files/../console/api/apps']) {
      assert.match(refused(`http://api:5001${path}`, p), /must be a Dify file URL/, path)
    }
    const prefixed = policy({ DIFY_ENDPOINT: 'https://dify.example.com/api' })
    assert.match(refused('https://dify.example.com/files/a', prefixed), /\/api\/files\//)
    assert.equal(resolveFileUrl('https://dify.example.com/api/files/a', prefixed).pathname, '/api/files/a')
    const opened = policy({ DIFY_ENDPOINT: 'http://api:5001', FILE_URL_ALLOWED_ORIGINS: 'http://api:5001' })
    assert.equal(resolveFileUrl('http://api:5001/console/api/x', opened).pathname, '/console/api/x')
  })

  it('redacts the query of URLs it names (Dify signs file URLs in the query)', () => {
    assert.equal(redactUrl(new URL('http://api:5001/files/a/file-preview?sign=secret')), 'http://api:5001/files/a/file-preview?…')
    assert.equal(redactUrl(new URL('http://api:5001/x')), 'http://api:5001/x')
  })
})

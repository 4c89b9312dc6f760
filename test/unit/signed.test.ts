// The SDK-less path (PutObject, UploadPart, GetObject) must address S3 exactly as the SDK does: the
// same path for every key (Ceph rejects a signature over a different one, and
// a differently encoded key is a different object).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { encodeKey } from '../../src/s3/signed.js'

const KEYS = [
  'plain.txt',
  'dir/sub/file.bin',
  'a b/c+d=e&f.txt',
  ' !"#$%&\'()*+,-.:;<=>?@[\\]^_`{|}~.txt',
  'ü (1)/日本語/ω 🙂.txt',
  'a//b/',
  '%41%2F already-encoded.txt',
  'trailing-slash/'
]

function client (forcePathStyle: boolean, endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
}

async function sdkPath (s3: S3Client, bucket: string, key: string): Promise<string> {
  return new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 })).pathname
}

describe('signed.ts: object keys in the path', () => {
  for (const [style, forcePathStyle, endpoint, prefix] of [
    ['path-style', true, 'http://127.0.0.1:9000', '/dify/'],
    ['path-style under an endpoint path', true, 'https://s3.example.test/storage', '/storage/dify/'],
    ['virtual-hosted', false, 'https://s3.example.test', '/']
  ] as const) {
    it(`encodes every key as the SDK does (${style})`, async () => {
      const s3 = client(forcePathStyle, endpoint)
      for (const key of KEYS) {
        assert.equal(prefix + encodeKey(key), await sdkPath(s3, 'dify', key), key)
      }
      s3.destroy()
    })
  }

  it('keeps the slashes and encodes everything outside RFC 3986 unreserved', () => {
    assert.equal(encodeKey("a/b c/ü!'()*~"), 'a/b%20c/%C3%BC%21%27%28%29%2A~')
  })
})

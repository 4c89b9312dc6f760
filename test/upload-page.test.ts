// The example upload page in a real browser (headless Chromium, as the /docs
// test): Uppy's Dashboard with @uppy/aws-s3 uploads a 64 MiB file in parts,
// each signed by the gateway (Companion's S3 protocol) and sent straight to
// S3; the stored object's SHA-256 matches. A screenshot of the finished
// Dashboard is kept in test/artifacts/upload-page.png.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PutBucketCorsCommand } from '@aws-sdk/client-s3'
import { describe, it } from 'node:test'
import { ARTIFACTS, CHROMIUM, gatewaySuite, launchChromium, objectBody, sha256 } from './helper.js'

const KEY = 'upload-page-key-0123456789'
const MiB = 1024 * 1024

describe('the example upload page (Uppy + @uppy/aws-s3)', () => {
  const suite = gatewaySuite({ API_KEYS: KEY, UPLOAD_PAGE: 'true' })

  it('uploads a 64 MiB file in presigned parts through the gateway\'s signatures, byte for byte', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`, timeout: 180_000 }, async () => {
    // the browser PUTs the parts to S3 itself: the bucket must allow the page's origin and expose ETag (README, "Bucket CORS")
    await suite.s3.client.send(new PutBucketCorsCommand({
      Bucket: suite.s3.bucket,
      CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 }] }
    }))
    const name = `browser-${randomBytes(4).toString('hex')}.bin`
    const data = randomBytes(64 * MiB)
    const file = join(mkdtempSync(join(tmpdir(), 'gw-upload-page-')), name)
    writeFileSync(file, data)
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 800 } })
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      await page.goto(`${suite.gw.url}/upload-page`, { waitUntil: 'load' })
      await page.locator('#key').fill(KEY)
      await page.locator('.uppy-Dashboard-input').first().setInputFiles(file)
      await page.locator('.uppy-StatusBar-actionBtn--upload').click()
      const result = await page.waitForFunction(() => (globalThis as unknown as { uploadResult?: unknown }).uploadResult, undefined, { timeout: 150_000 })
      const outcome = await result.jsonValue() as { successful: Array<{ name: string }>, failed: unknown[] }
      assert.equal(outcome.failed.length, 0, JSON.stringify(outcome.failed).slice(0, 500))
      assert.equal(outcome.successful.length, 1)
      assert.deepEqual(errors, [])
      mkdirSync(ARTIFACTS, { recursive: true })
      await page.screenshot({ path: join(ARTIFACTS, 'upload-page.png') })
    } finally {
      await browser.close()
    }
    // it went in parts, each signed here, completed here
    const metrics = await (await fetch(`${suite.gw.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text()
    const count = (route: string): number => [...metrics.matchAll(new RegExp(`^s3_gateway_http_requests_total\\{route="${route.replace(/[/:]/g, (c) => `\\${c}`)}",method="(?:GET|POST)",status="200"[^}]*\\} (\\d+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0)
    assert.equal(count('/s3/multipart'), 1, 'one multipart upload created')
    assert.ok(count('/s3/multipart/:uploadId/:partNumber') >= 2, `parts signed: ${count('/s3/multipart/:uploadId/:partNumber')}`)
    assert.equal(count('/s3/multipart/:uploadId/complete'), 1)
    const stored = await objectBody(suite.s3, name)
    assert.equal(stored?.length, data.length)
    assert.equal(sha256(stored ?? Buffer.alloc(0)), sha256(data))
  })

  it('serves the page and Uppy\'s bundle without a key, and nothing else under /upload-page', async () => {
    const page = await fetch(`${suite.gw.url}/upload-page`)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /companionEndpoint: gateway/)
    const bundle = await fetch(`${suite.gw.url}/upload-page/uppy.min.mjs`)
    assert.equal(bundle.status, 200)
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/)
    await bundle.arrayBuffer()
    const other = await fetch(`${suite.gw.url}/upload-page/..%2Fpackage.json`)
    assert.equal(other.status, 404)
    await other.arrayBuffer()
  })
})

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config.js'
import { sha256Of } from '../../src/auth/keys.js'

const S3 = { S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 's', BUCKET_NAME: 'dify' }

function refusal (env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`)
    return err.message
  }
  assert.fail(`accepted ${JSON.stringify(env)}`)
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(S3)
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.port, 3000)
    assert.equal(config.publicUrl, 'http://127.0.0.1:3000')
    assert.equal(config.s3.region, 'us-east-1')
    assert.equal(config.s3.forcePathStyle, true)
    assert.equal(config.s3.checksumMode, 'when_required')
    assert.equal(config.s3.publicEndpoint, undefined)
    assert.equal(config.maxUploadBytes, 5 * 1024 ** 3)
    assert.equal(config.base64MaxBytes, 32 * 1024 ** 2)
    assert.equal(config.presignDefaultExpiry, 3600)
    assert.equal(config.presignMaxExpiry, 604800)
    assert.equal(config.keyPrefix, '')
    assert.equal(config.logLevel, 'info')
    assert.deepEqual(config.keys, [])
    assert.equal(config.s3.guessBufferBytes, 32 * 1024 ** 2)
    assert.equal(config.s3.guessMaxBytes, 16 * 1024 ** 2)
    assert.equal(config.mallocKeepBytes, 32 * 1024 ** 2)
  })

  it('refuses MALLOC_KEEP_MIB above 62 (glibc raises its threshold to 32 MiB at most); 0 leaves glibc its own', () => {
    assert.match(refusal({ ...S3, MALLOC_KEEP_MIB: '63' }), /MALLOC_KEEP_MIB/)
    assert.equal(loadConfig({ ...S3, MALLOC_KEEP_MIB: '62' }).mallocKeepBytes, 62 * 1024 ** 2)
    assert.match(refusal({ ...S3, MALLOC_KEEP_MIB: '-1' }), /MALLOC_KEEP_MIB/)
    assert.equal(loadConfig({ ...S3, MALLOC_KEEP_MIB: '0' }).mallocKeepBytes, 0)
  })

  it('refuses UPLOAD_GUESS_MAX_MIB below 1 or above S3\'s 5 GiB single PUT', () => {
    assert.match(refusal({ ...S3, UPLOAD_GUESS_MAX_MIB: '0' }), /UPLOAD_GUESS_MAX_MIB/)
    assert.match(refusal({ ...S3, UPLOAD_GUESS_MAX_MIB: '5121' }), /UPLOAD_GUESS_MAX_MIB/)
    assert.equal(loadConfig({ ...S3, UPLOAD_GUESS_MAX_MIB: '1024' }).s3.guessMaxBytes, 1024 ** 3)
  })

  it('stages large form parts under UPLOAD_STAGING_PREFIX, itself under KEY_PREFIX, unless UPLOAD_STAGING=false', () => {
    assert.equal(loadConfig({ ...S3 }).s3.stagingPrefix, '.gateway-staging/')
    assert.equal(loadConfig({ ...S3, KEY_PREFIX: '/team-a/' }).s3.stagingPrefix, 'team-a/.gateway-staging/')
    assert.equal(loadConfig({ ...S3, KEY_PREFIX: 'team-a', UPLOAD_STAGING: 'false' }).s3.stagingPrefix, '')
    assert.match(refusal({ ...S3, UPLOAD_STAGING: 'maybe' }), /UPLOAD_STAGING/)
    assert.match(refusal({ ...S3, UPLOAD_STAGING_PREFIX: '/abs' }), /UPLOAD_STAGING_PREFIX/)
    assert.match(refusal({ ...S3, UPLOAD_STAGING_PREFIX: 'has space/' }), /UPLOAD_STAGING_PREFIX/)
  })

  it('starts the embedded S3 (endpoint undefined, bucket "dify") without S3_ENDPOINT outside production', () => {
    const config = loadConfig({})
    assert.equal(config.s3.endpoint, undefined)
    assert.equal(config.s3.bucket, 'dify')
    assert.equal(config.dataDir, './data')
  })

  it('refuses production without S3_ENDPOINT', () => {
    assert.match(refusal({ NODE_ENV: 'production' }), /S3_ENDPOINT is required/)
  })

  it('names the variable of a bad value', () => {
    assert.match(refusal({ ...S3, PORT: 'eighty' }), /^PORT /)
    assert.match(refusal({ ...S3, PORT: '70000' }), /^PORT /)
    assert.match(refusal({ ...S3, MAX_UPLOAD_BYTES: '-1' }), /^MAX_UPLOAD_BYTES /)
    assert.match(refusal({ ...S3, S3_CHECKSUM_MODE: 'always' }), /^S3_CHECKSUM_MODE .*when_required/)
    assert.match(refusal({ ...S3, LOG_LEVEL: 'loud' }), /^LOG_LEVEL /)
    assert.match(refusal({ ...S3, S3_ENDPOINT: 'minio:9000' }), /^S3_ENDPOINT must be/)
    assert.match(refusal({ ...S3, S3_FORCE_PATH_STYLE: 'maybe' }), /^S3_FORCE_PATH_STYLE /)
    assert.match(refusal({ ...S3, BUCKET_NAME: 'Bad_Bucket' }), /^BUCKET_NAME /)
    assert.match(refusal({ ...S3, PRESIGN_DEFAULT_EXPIRY: '9000', PRESIGN_MAX_EXPIRY: '600' }), /^PRESIGN_DEFAULT_EXPIRY/)
    assert.match(refusal({ ...S3, S3_CA_BUNDLE_FILE: '/nonexistent/ca.pem' }), /^S3_CA_BUNDLE_FILE: cannot read/)
    assert.match(refusal({ ...S3, S3_CA_BUNDLE: 'not a pem' }), /^S3_CA_BUNDLE holds no PEM/)
    assert.match(refusal({ S3_ENDPOINT: 'http://s3:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 's' }), /BUCKET_NAME/)
    assert.match(refusal({ S3_ENDPOINT: 'http://s3:9000', BUCKET_NAME: 'bucket' }), /S3_ACCESS_KEY and S3_SECRET_KEY/)
  })

  it('takes S3_BUCKET as an alias of BUCKET_NAME', () => {
    const { BUCKET_NAME: _, ...rest } = S3
    assert.equal(loadConfig({ ...rest, S3_BUCKET: 'other' }).s3.bucket, 'other')
  })

  it('refuses a non-loopback address without API keys, unless AUTH_DISABLED=true', () => {
    assert.match(refusal({ ...S3, HOST: '0.0.0.0' }), /API_KEYS .* AUTH_DISABLED=true/)
    assert.equal(loadConfig({ ...S3, HOST: '0.0.0.0', AUTH_DISABLED: 'true' }).authDisabled, true)
    assert.deepEqual(loadConfig({ ...S3, HOST: '0.0.0.0', API_KEYS: 'k1, k2' }).keys.map((k) => k.digest.toString('hex')), ['k1', 'k2'].map((k) => sha256Of(k).toString('hex')))
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) assert.equal(loadConfig({ ...S3, HOST: host }).host, host)
  })

  it('normalises KEY_PREFIX and treats empty variables as unset', () => {
    assert.equal(loadConfig({ ...S3, KEY_PREFIX: '/tenants/a/' }).keyPrefix, 'tenants/a')
    assert.equal(loadConfig({ ...S3, PORT: '' }).port, 3000)
  })
})

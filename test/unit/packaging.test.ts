// What Dify's plugin packager puts into the package: the repository's files
// filtered by .difyignore (or .gitignore when it is absent), with gitignore
// rules. Only the plugin's own files may be in it — never a local .env, .git/,
// data, node_modules or test artifacts.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { describe, it } from 'node:test'
import { PLUGIN_ROOT } from '../../src/dify/endpoints.js'

// gitignore rules as Dify's packager applies them; a CommonJS module whose types say `export default`
const ignore = createRequire(import.meta.url)('ignore') as typeof import('ignore').default

/** what a checkout may hold beside the tracked files: secrets, data, caches */
const LOCAL_FILES = ['.env', '.env.local', '.env.production', '.git/config', '.git/HEAD', 'data/dify/object.bin', 'node_modules/x/index.js',
  'test/artifacts/docs.png', 'tools/__pycache__/gateway.cpython-312.pyc', 'dist/server.js', 'npm-debug.log', 'provider/__pycache__/s3_gateway.cpython-312.pyc']

function packaged (files: string[]): string[] {
  const rules = existsSync(join(PLUGIN_ROOT, '.difyignore')) ? '.difyignore' : '.gitignore'
  const filter = ignore().add(readFileSync(join(PLUGIN_ROOT, rules), 'utf8'))
  return files.filter((file) => !filter.ignores(file)).sort()
}

describe('the plugin package', () => {
  const tracked = execFileSync('git', ['ls-files'], { cwd: PLUGIN_ROOT, encoding: 'utf8' }).split('\n').filter((f) => f !== '')

  it('holds the plugin\'s files and nothing else, with a .env and .git/ in the checkout', () => {
    const files = packaged([...tracked, ...LOCAL_FILES])
    const expected = tracked.filter((f) => /^(manifest\.yaml|main\.py|requirements\.txt|README\.md|_assets\/.+|group\/.+\.yaml|endpoints\/.+\.(yaml|py)|provider\/.+\.(yaml|py)|tools\/.+\.(yaml|py))$/.test(f)).sort()
    assert.deepEqual(files, expected)
    for (const local of LOCAL_FILES) assert.ok(!files.includes(local), `${local} would be packaged`)
  })

  it('holds every file the manifest, group and provider point at', () => {
    const files = new Set(packaged(tracked))
    for (const needed of ['manifest.yaml', 'main.py', 'requirements.txt', '_assets/icon.svg', 'group/s3_gateway.yaml', 'endpoints/forward.py', 'provider/s3_gateway.yaml', 'provider/s3_gateway.py', 'tools/gateway.py', 'tools/s3_upload_file.yaml', 'tools/s3_upload_file.py']) {
      assert.ok(files.has(needed), needed)
    }
    assert.ok([...files].every((f) => !f.startsWith('test/')), 'the SDK stand-in of the tests stays out')
  })
})

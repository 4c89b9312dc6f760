// API_KEYS_FILE forms (API.md Part 2 "Scoped API keys"): YAML, JSON, the plain
// one-key-a-line form, and every mistake refused with a reason that names it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KeyFileError, KeyRing, parseKeyFile, plainKey, sha256Of, weakKeysProblem } from '../../src/auth/keys.js'

const refusal = (text: string): string => {
  try {
    parseKeyFile(text)
  } catch (err) {
    assert.ok(err instanceof KeyFileError, String(err))
    return err.message
  }
  assert.fail(`accepted: ${text}`)
}

describe('API key files', () => {
  it('reads YAML with key or sha256, prefix, permissions and max_upload_bytes', () => {
    const keys = parseKeyFile([
      'keys:',
      '  - name: dify-prod',
      `    sha256: ${sha256Of('s3cret').toString('hex')}`,
      '    prefix: /tenants/acme/',
      '    permissions: [read, write]',
      '    max_upload_bytes: 104857600',
      '  - name: ops',
      '    key: other-secret',
      '    permissions: [read, write, delete, list, presign]'
    ].join('\n'))
    assert.equal(keys.length, 2)
    assert.equal(keys[0]?.name, 'dify-prod')
    assert.equal(keys[0]?.prefix, 'tenants/acme')
    assert.deepEqual([...keys[0]?.permissions ?? []], ['read', 'write'])
    assert.equal(keys[0]?.maxUploadBytes, 104857600)
    assert.equal(keys[1]?.prefix, '')
    const ring = new KeyRing(keys, undefined)
    assert.equal(ring.match('s3cret')?.name, 'dify-prod')
    assert.equal(ring.match('other-secret')?.name, 'ops')
    assert.equal(ring.match('nope'), undefined)
  })

  it('reads JSON and a bare list, and the plain form with comments', () => {
    const json = parseKeyFile(JSON.stringify({ keys: [{ name: 'a', key: 'k-a', permissions: ['list'] }] }))
    assert.deepEqual([...json[0]?.permissions ?? []], ['list'])
    assert.equal(parseKeyFile('- name: b\n  key: k-b\n  permissions: [read]\n')[0]?.name, 'b')
    const plain = parseKeyFile('# one a line\nfirst-key-0001\nsecond:key:0002\n\n')
    // the comment's words are no keys (they were, before)
    assert.deepEqual(plain.map((k) => k.digest.toString('hex')), [sha256Of('first-key-0001'), sha256Of('second:key:0002')].map((d) => d.toString('hex')))
    assert.equal(plain[0]?.permissions.size, 5, 'a plain key may do everything')
    assert.match(plain[0]?.name ?? '', /^key-[0-9a-f]{8}$/)
    assert.ok(!(plain[0]?.name ?? '').includes('first'), 'a plain key is named by a fingerprint, not by itself')
  })

  it('refuses every mistake with a reason naming it', () => {
    const entry = (fields: string): string => `keys:\n  - ${fields.split('\n').join('\n    ')}\n`
    assert.match(refusal(entry('name: a\nkey: k\npermissions: [fly]')), /unknown permission "fly"/)
    assert.match(refusal(entry('name: a\nkey: k\npermissions: []')), /permissions must be a list/)
    assert.match(refusal(entry('name: a\nkey: k')), /permissions must be a list/)
    assert.match(refusal(entry('name: a\npermissions: [read]')), /needs key .* or sha256/)
    assert.match(refusal(entry('name: a\nsha256: abc\npermissions: [read]')), /needs key .* or sha256/)
    assert.match(refusal(entry(`name: a\nkey: k\nsha256: ${'0'.repeat(64)}\npermissions: [read]`)), /not both/)
    assert.match(refusal(entry('name: "a b"\nkey: k\npermissions: [read]')), /name must be/)
    assert.match(refusal(entry('name: a\nkey: k\npermissions: [read]\nprefix: a/../b')), /prefix .* is not usable/)
    assert.match(refusal(entry('name: a\nkey: k\npermissions: [read]\nmax_upload_bytes: -1')), /max_upload_bytes/)
    assert.match(refusal(entry('name: a\nkey: k\npermissions: [read]\nprefixes: x')), /unknown field "prefixes"/)
    assert.match(refusal('keys: {name: a}'), /"keys" must be a list/)
    assert.match(refusal('settings: 1'), /top-level "keys" list/)
    assert.match(refusal('keys: [ {name: a'), /not valid YAML/)
    assert.throws(() => KeyRing.load(parseKeyFile('keys:\n  - {name: a, key: k1, permissions: [read]}\n  - {name: a, key: k2, permissions: [read]}'), undefined), /two keys are named a/)
    assert.throws(() => KeyRing.load(parseKeyFile('keys:\n  - {name: a, key: k1, permissions: [read]}\n  - {name: b, key: k1, permissions: [list]}'), undefined), /the key named b is given twice/)
    assert.throws(() => KeyRing.load([plainKey('same'), plainKey('same')], undefined), /two keys are named key-/)
  })
})

describe('production keys (weakKeysProblem)', () => {
  it('names keys under 16 characters and the .env.example placeholder by fingerprint, never the key', () => {
    const problem = weakKeysProblem([plainKey('short-key'), plainKey('replace-with-a-long-random-key'), plainKey('a-good-key-of-32-characters-abcd')]) ?? ''
    assert.match(problem, /^key-[0-9a-f]{8}, key-[0-9a-f]{8}: API keys must be at least 16 characters/)
    assert.ok(!problem.includes('short-key'))
    assert.equal(weakKeysProblem([plainKey('a-good-key-of-32-characters-abcd')]), undefined)
  })

  it('a SIGHUP reload that brings a weak key is refused, and the keys in force stay', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'keys.yaml')
    writeFileSync(file, 'keys:\n  - name: good\n    key: a-good-key-of-32-characters-abcd\n    permissions: [read]\n')
    const ring = new KeyRing([], file, undefined, weakKeysProblem)
    assert.deepEqual(ring.keys.map((k) => k.name), ['good'])
    writeFileSync(file, 'keys:\n  - name: weak\n    key: tiny\n    permissions: [read]\n')
    assert.throws(() => ring.reload(), (err: Error) => err instanceof KeyFileError && /weak: API keys must be at least 16/.test(err.message))
    assert.deepEqual(ring.keys.map((k) => k.name), ['good'])
    assert.equal(ring.match('tiny'), undefined)
    // a key given by its sha256 cannot be measured: accepted
    writeFileSync(file, `keys:\n  - name: hashed\n    sha256: ${sha256Of('whatever').toString('hex')}\n    permissions: [read]\n`)
    assert.equal(ring.reload(), 1)
  })
})

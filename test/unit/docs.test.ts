// The documents a user and a contributor read: every relative link points at a
// file of the repository (and a #heading of it that exists), nothing points
// outside the repository, the README stays a README (about 250 lines), and
// its runnable examples are marked for scripts/check-readme.ts, which CI runs
// against npm start.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { describe, it } from 'node:test'
import { PLUGIN_ROOT } from '../../src/dify/endpoints.js'
import { runnableBlocks } from '../../scripts/check-readme.js'

const DOCS = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'docs/API.md', 'docs/s3-servers.md', 'bench/README.md', 'scripts/schemas/README.md', 'deploy/kubernetes/README.md']

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens */
function slug (heading: string): string {
  return heading.trim().toLowerCase().replace(/[`*_]/g, '').replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s/g, '-')
}

function anchors (file: string): Set<string> {
  const text = readFileSync(join(PLUGIN_ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '')
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const match of text.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = slug(match[1] ?? '')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** [text](target) outside code blocks and inline code */
function links (file: string): string[] {
  const text = readFileSync(join(PLUGIN_ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '')
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string)
}

describe('the documents', () => {
  for (const file of DOCS) {
    it(`${file}: every link resolves inside the repository`, () => {
      assert.ok(existsSync(join(PLUGIN_ROOT, file)), `${file} exists`)
      const found = links(file)
      for (const target of found) {
        if (/^https?:\/\//.test(target)) {
          assert.doesNotThrow(() => new URL(target), target)
          continue
        }
        assert.ok(!/^[a-z]+:/i.test(target), `${file}: ${target} is not an http(s) or relative link`)
        const [path = '', anchor] = target.split('#')
        const resolved = path === '' ? file : normalize(join(dirname(file), path))
        assert.ok(!resolved.startsWith('..'), `${file}: ${target} points outside the repository`)
        assert.ok(existsSync(join(PLUGIN_ROOT, resolved)), `${file}: ${target} → ${resolved} does not exist`)
        if (anchor !== undefined && resolved.endsWith('.md')) assert.ok(anchors(resolved).has(anchor), `${file}: ${target}: no heading #${anchor} in ${resolved} (${[...anchors(resolved)].join(', ')})`)
      }
    })
  }

  it('README.md is for users: about 250 lines, the contract and the developer matter linked', () => {
    const readme = readFileSync(join(PLUGIN_ROOT, 'README.md'), 'utf8')
    const lines = readme.split('\n').length
    assert.ok(lines <= 280, `README.md has ${lines} lines`)
    for (const target of ['docs/API.md', 'CONTRIBUTING.md', 'bench/README.md', 'SECURITY.md']) assert.ok(links('README.md').some((l) => l.startsWith(target)), `README links ${target}`)
    assert.doesNotMatch(readme, /\.\.\/shared|\.\.\/\.library/, 'nothing outside the repository')
  })

  it('the README\'s 60-second try and tool examples are marked to run, and create what they use', () => {
    const blocks = runnableBlocks(readFileSync(join(PLUGIN_ROOT, 'README.md'), 'utf8'))
    assert.ok(blocks.length >= 2, `${blocks.length} blocks`)
    const first = blocks[0]?.script ?? ''
    assert.match(first, /^GW=http:\/\/127\.0\.0\.1:3000$/m, 'it sets GW')
    assert.match(first, /> hello\.txt/, 'it creates its sample file')
    assert.doesNotMatch(blocks.map((b) => b.script).join('\n'), /-OJ|\$URL/, 'no -OJ over an existing file, no unset $URL')
  })
})

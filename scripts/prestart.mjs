// `npm start` compiles first: TypeScript is a devDependency. It compiles only
// when the sources changed since the last build (a hash of src/ and the
// tsconfig files, kept in dist/.build-hash), so that a second start is quick.
// Where devDependencies were left out (`NODE_ENV=production npm ci`,
// `--omit=dev`), a dist/ built beforehand is started as it is.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const STAMP = 'dist/.build-hash'

/** every file under dir, sorted, as paths relative to the repository */
function files (dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort()
}

function sourceHash (tscPath) {
  const hash = createHash('sha256')
  hash.update(readFileSync(join(tscPath, '..', '..', 'package.json')))
  for (const file of ['tsconfig.json', 'tsconfig.build.json', ...files('src')]) {
    hash.update(`${file}\0`).update(readFileSync(file)).update('\0')
  }
  return hash.digest('hex')
}

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  tsc = undefined
}
if (tsc !== undefined) {
  const hash = sourceHash(tsc)
  const built = existsSync(STAMP) && existsSync('dist/server.js') ? readFileSync(STAMP, 'utf8').trim() : ''
  if (built === hash) process.exit(0)
  const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  if (status === 0) writeFileSync(STAMP, `${hash}\n`)
  process.exit(status ?? 1)
}
if (existsSync('dist/server.js')) {
  console.log('dify-s3-gateway: TypeScript is not installed (devDependencies omitted); starting the existing dist/')
} else {
  console.error('dify-s3-gateway: dist/ is missing and TypeScript is not installed: run `npm ci` with devDependencies (not NODE_ENV=production), or `npm run build` before omitting them')
  process.exit(1)
}

// `npm start` compiles first: TypeScript is a devDependency. Where
// devDependencies were left out (`NODE_ENV=production npm ci`, `--omit=dev`),
// a dist/ built beforehand is started as it is.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  tsc = undefined
}
if (tsc !== undefined) {
  const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  process.exit(status ?? 1)
}
if (existsSync('dist/server.js')) {
  console.log('dify-s3-gateway: TypeScript is not installed (devDependencies omitted); starting the existing dist/')
} else {
  console.error('dify-s3-gateway: dist/ is missing and TypeScript is not installed: run `npm ci` with devDependencies (not NODE_ENV=production), or `npm run build` before omitting them')
  process.exit(1)
}

// The checks CI runs in place of Docker (scripts/check-deploy.ts): the real
// files pass, and each kind of breakage is caught with a message.
/* eslint-disable no-template-curly-in-string -- the strings are compose files, whose ${VAR} is not JavaScript */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { PLUGIN_ROOT } from '../../src/dify/endpoints.js'
import { checkCompose, checkDockerfile, composeVariables } from '../../scripts/deploy-checks.js'

const read = (file: string): string => readFileSync(join(PLUGIN_ROOT, file), 'utf8')
const schema = JSON.parse(readFileSync(join(PLUGIN_ROOT, 'scripts', 'schemas', 'compose-spec.json'), 'utf8')) as Record<string, unknown>
const compose = read('docker-compose.yml')
const envExample = read('.env.example')
const dockerfile = read('Dockerfile')

function composeProblems (edit: (text: string) => string, env = envExample): string {
  const edited = edit(compose)
  assert.notEqual(edited, compose, 'the edit applies')
  return checkCompose(edited, schema, env).join('\n')
}

function dockerProblems (edit: (text: string) => string): string {
  const edited = edit(dockerfile)
  assert.notEqual(edited, dockerfile, 'the edit applies')
  return checkDockerfile(edited, PLUGIN_ROOT).join('\n')
}

describe('deployment checks', () => {
  it('pass on the repository\'s docker-compose.yml, .env.example and Dockerfile', () => {
    assert.deepEqual(checkCompose(compose, schema, envExample), [])
    assert.deepEqual(checkDockerfile(dockerfile, PLUGIN_ROOT), [])
  })

  it('.env.example names every setting of the service and every compose variable', () => {
    const documented = new Set([...envExample.matchAll(/^#?\s*([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]))
    for (const variable of composeVariables(compose)) assert.ok(documented.has(variable), variable)
    const source = readFileSync(join(PLUGIN_ROOT, 'src', 'config.ts'), 'utf8')
    const settings = [...source.slice(source.indexOf('const EnvSchema'), source.indexOf('type Env =')).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string)
    assert.ok(settings.length > 30, `read ${settings.length} settings`)
    for (const setting of settings) assert.ok(documented.has(setting), `.env.example lacks ${setting}`)
    assert.equal(loadConfig({ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', BUCKET_NAME: 'dify' }).host, '127.0.0.1')
  })

  describe('docker-compose.yml', () => {
    const cases: Array<[string, (t: string) => string, RegExp]> = [
      ['a schema violation', (t) => t.replace('    restart: unless-stopped\n', '    restart: unless-stopped\n    ports_typo: 1\n'), /schema: .*additional properties.*ports_typo/],
      ['an unpinned image', (t) => t.replace(/quay\.io\/minio\/minio:RELEASE[^\n]+/, 'quay.io/minio/minio:latest'), /never latest/],
      ['no tag at all', (t) => t.replace(/quay\.io\/minio\/mc:RELEASE[^\n]+/, 'quay.io/minio/mc'), /minio-init: image quay\.io\/minio\/mc must be pinned/],
      ['MinIO from Docker Hub', (t) => t.replace('quay.io/minio/minio:', 'minio/minio:'), /come from quay\.io\/minio/],
      ['a service without a healthcheck', (t) => t.replace(/\n {4}healthcheck:\n {6}# the image ships mc but no curl\n(?: {6}[^\n]+\n)+/, '\n'), /minio: a long-running service needs a healthcheck/],
      ['depends_on without a health condition', (t) => t.replace('condition: service_completed_successfully', 'condition: service_started'), /must wait for condition service_completed_successfully/],
      ['a secret written inline', (t) => t.replace('API_KEYS: ${API_KEYS:?set API_KEYS in .env}', 'API_KEYS: hunter2'), /API_KEYS is written inline/],
      ['an undeclared volume', (t) => t.replace('      - minio-data:/data', '      - other-data:/data'), /volume other-data is not declared/],
      ['no S3_PUBLIC_ENDPOINT', (t) => t.replace(/ {6}S3_PUBLIC_ENDPOINT:[^\n]+\n/, ''), /needs S3_PUBLIC_ENDPOINT/],
      ['a variable .env.example does not document', (t) => t.replace('LOG_LEVEL: ${LOG_LEVEL:-info}', 'LOG_LEVEL: ${GATEWAY_LOG:-info}'), /does not document GATEWAY_LOG/],
      ['no env_file: settings of .env.example would not reach the gateway', (t) => t.replace(/ {4}env_file:\n(?: {6}[^\n]+\n)+/, ''), /needs env_file \.env/],
      ['not YAML', (t) => t + '\n  : [unbalanced', /not YAML/]
    ]
    for (const [what, edit, expected] of cases) {
      it(`fails on ${what}`, () => { assert.match(composeProblems(edit), expected) })
    }
  })

  describe('Dockerfile', () => {
    const cases: Array<[string, (t: string) => string, RegExp]> = [
      ['a single stage', (t) => t.replace(/FROM \$\{NODE_IMAGE\} AS build[\s\S]*?(?=FROM \$\{NODE_IMAGE\} AS runtime)/, ''), /not multi-stage/],
      ['a Node 20 base', (t) => t.replace('node:24-bookworm-slim', 'node:20-bookworm-slim'), /is not Node 24 LTS/],
      ['running as root', (t) => t.replace('USER node\n', ''), /non-root USER/],
      ['no NODE_ENV=production', (t) => t.replace('NODE_ENV=production', 'NODE_ENV=development'), /NODE_ENV=production/],
      ['no HEALTHCHECK', (t) => t.replace(/HEALTHCHECK[^\n]*\\\n[^\n]+\n/, ''), /no HEALTHCHECK/],
      ['a curl HEALTHCHECK', (t) => t.replace(/CMD \["node", "-e", [^\n]+/, 'CMD ["curl", "-f", "http://127.0.0.1:3000/healthz"]'), /probe \/healthz with node/],
      ['npm as PID 1', (t) => t.replace('CMD ["node", "--expose-gc", "--max-semi-space-size=1", "--no-concurrent-array-buffer-sweeping", "dist/server.js"]', 'CMD ["npm", "start"]'), /exec form running node directly/],
      ['a shell-form CMD', (t) => t.replace('CMD ["node", "--expose-gc", "--max-semi-space-size=1", "--no-concurrent-array-buffer-sweeping", "dist/server.js"]', 'CMD node dist/server.js'), /exec form running node directly/],
      ['COPY of a file that does not exist', (t) => t.replace('COPY group ./group', 'COPY groups ./groups'), /COPY groups: no such file/],
      ['dev dependencies in the runtime stage', (t) => t.replace('COPY --from=deps /app/node_modules ./node_modules', 'RUN npm ci'), /runtime stage installs dev dependencies/]
    ]
    for (const [what, edit, expected] of cases) {
      it(`fails on ${what}`, () => { assert.match(dockerProblems(edit), expected) })
    }
  })
})

// The checks CI runs in place of Docker (scripts/check-deploy.ts): the real
// files pass, and each kind of breakage is caught with a message.
/* eslint-disable no-template-curly-in-string -- the strings are compose files, whose ${VAR} is not JavaScript */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../../src/config.js'
import { PLUGIN_ROOT } from '../../src/dify/endpoints.js'
import { checkCompose, checkDockerfile, checkReplicasOverride, composeVariables } from '../../scripts/deploy-checks.js'
import { checkKubernetes } from '../../scripts/k8s-checks.js'

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
      ['npm as PID 1', (t) => t.replace('CMD ["node", "--expose-gc", "--max-semi-space-size=2", "--no-concurrent-array-buffer-sweeping", "dist/server.js"]', 'CMD ["npm", "start"]'), /exec form running node directly/],
      ['a shell-form CMD', (t) => t.replace('CMD ["node", "--expose-gc", "--max-semi-space-size=2", "--no-concurrent-array-buffer-sweeping", "dist/server.js"]', 'CMD node dist/server.js'), /exec form running node directly/],
      ['COPY of a file that does not exist', (t) => t.replace('COPY group ./group', 'COPY groups ./groups'), /COPY groups: no such file/],
      ['dev dependencies in the runtime stage', (t) => t.replace('COPY --from=deps /app/node_modules ./node_modules', 'RUN npm ci'), /runtime stage installs dev dependencies/]
    ]
    for (const [what, edit, expected] of cases) {
      it(`fails on ${what}`, () => { assert.match(dockerProblems(edit), expected) })
    }
  })

  describe('deploy/compose/replicas.yml (three replicas behind nginx)', () => {
    const override = read('deploy/compose/replicas.yml')
    const problems = (edit: (t: string) => string): string => {
      const edited = edit(override)
      assert.notEqual(edited, override, 'the edit applies')
      return checkReplicasOverride(compose, edited, schema, envExample, PLUGIN_ROOT).join('\n')
    }
    it('passes merged onto docker-compose.yml', () => {
      assert.deepEqual(checkReplicasOverride(compose, override, schema, envExample, PLUGIN_ROOT), [])
    })
    const cases: Array<[string, (t: string) => string, RegExp]> = [
      ['one replica', (t) => t.replace('replicas: 3', 'replicas: 1'), /deploy\.replicas must be 2 or more/],
      ['replicas sharing the host port', (t) => t.replace('    ports: !reset []\n', ''), /cannot share a host port/],
      ['a proxy config that does not exist', (t) => t.replace('./deploy/nginx/dify-s3-gateway.conf', './deploy/nginx/missing.conf'), /mounts \.\/deploy\/nginx\/missing\.conf, which does not exist/],
      ['an unpinned proxy image', (t) => t.replace('nginx:1.27.5-alpine', 'nginx:latest'), /never latest/],
      ['a proxy without a healthcheck', (t) => t.replace(/ {4}healthcheck:\n(?: {6}[^\n]+\n)+/, ''), /gateway-proxy: a long-running service needs a healthcheck/]
    ]
    for (const [what, edit, expected] of cases) {
      it(`fails on ${what}`, () => { assert.match(problems(edit), expected) })
    }
  })

  describe('deploy/kubernetes', () => {
    const dir = join(PLUGIN_ROOT, 'deploy', 'kubernetes')
    const files = Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]))
    const problems = async (file: string, edit: (t: string) => string): Promise<string> => {
      const edited = edit(files[file] ?? '')
      assert.notEqual(edited, files[file], 'the edit applies')
      return (await checkKubernetes({ ...files, [file]: edited })).join('\n')
    }
    it('pass: every object valid against the Kubernetes API schema, and our rules', async () => {
      assert.deepEqual(Object.keys(files).sort(), ['configmap.yaml', 'deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'secret.example.yaml', 'service.yaml'])
      assert.deepEqual(await checkKubernetes(files), [])
    })
    const cases: Array<[string, string, (t: string) => string, RegExp]> = [
      ['a schema violation (a port that is not a number)', 'deployment.yaml', (t) => t.replace('containerPort: 3000', 'containerPort: three-thousand'), /schema: .*containerPort must be integer/],
      ['an unknown kind', 'service.yaml', (t) => t.replace('kind: Service', 'kind: Servise'), /v1 Servise is not a Kubernetes API object/],
      ['readiness on /healthz', 'deployment.yaml', (t) => t.replace('path: /readyz', 'path: /healthz'), /readiness probe must GET \/readyz/],
      ['no preStop', 'deployment.yaml', (t) => t.replace(/ {10}lifecycle:\n {12}preStop:\n {14}sleep:\n {16}seconds: 10\n/, ''), /preStop sleep/],
      ['a grace period under SHUTDOWN_TIMEOUT_MS', 'deployment.yaml', (t) => t.replace('terminationGracePeriodSeconds: 60', 'terminationGracePeriodSeconds: 30'), /terminationGracePeriodSeconds \(30\) must exceed/],
      ['a writable root filesystem', 'deployment.yaml', (t) => t.replace('readOnlyRootFilesystem: true', 'readOnlyRootFilesystem: false'), /readOnlyRootFilesystem must be true/],
      ['root allowed', 'deployment.yaml', (t) => t.replace('runAsNonRoot: true', 'runAsNonRoot: false'), /runAsNonRoot must be true/],
      ['no memory limit', 'deployment.yaml', (t) => t.replace(/ {12}limits:\n {14}memory: 512Mi\n/, ''), /memory requests and limits/],
      ['the latest image', 'deployment.yaml', (t) => t.replace('dify-s3-gateway:0.1.0', 'dify-s3-gateway:latest'), /never latest/],
      ['a Service selecting nothing', 'service.yaml', (t) => t.replace(/selector:\n {4}app\.kubernetes\.io\/name: dify-s3-gateway/, 'selector:\n    app.kubernetes.io/name: other'), /Service dify-s3-gateway selects no pod/],
      ['an HPA scaling something else', 'hpa.yaml', (t) => t.replace(/name: dify-s3-gateway\n {2}minReplicas/, 'name: other\n  minReplicas'), /must scale Deployment dify-s3-gateway/]
    ]
    for (const [what, file, edit, expected] of cases) {
      it(`fails on ${what}`, async () => { assert.match(await problems(file, edit), expected) })
    }
  })
})

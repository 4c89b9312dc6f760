// Checks of docker-compose.yml, .env.example and the Dockerfile that run
// without a Docker engine (none runs on these machines): the Compose
// Specification's JSON Schema plus our own rules, and a parse of the
// Dockerfile that `replayDockerfile` (scripts/check-deploy.ts) carries out.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { parse, stringify } from 'yaml'

type Json = Record<string, any>

const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|API_KEYS?$|ACCESS_KEY|PRIVATE)/i

/** `${VAR}`, `${VAR:-default}`, `${VAR:?message}`: the names a compose file takes from the environment */
export function composeVariables (text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(?:[:?-][^}]*)?\}/g)].map((m) => m[1] as string))]
}

const RESET = Symbol('!reset')

/** Compose's merge of an override file onto a base (mappings merge, the rest replaces, `!reset` removes). */
function mergeOverride (base: unknown, override: unknown): unknown {
  if (override === RESET) return undefined
  if (base === null || typeof base !== 'object' || Array.isArray(base) || override === null || typeof override !== 'object' || Array.isArray(override)) return override
  const merged: Json = { ...(base as Json) }
  for (const [name, value] of Object.entries(override as Json)) {
    const next = mergeOverride(merged[name], value)
    if (next === undefined) delete merged[name]
    else merged[name] = next
  }
  return merged
}

/**
 * Problems of an override file (docker compose -f docker-compose.yml -f <it>)
 * that scales the gateway behind a proxy: the merged file passes every check
 * of checkCompose, the gateway runs several replicas and publishes no host
 * port (the proxy does), and each file the proxy mounts exists.
 */
export function checkReplicasOverride (baseText: string, overrideText: string, schema: Json, envExample: string, root: string): string[] {
  let override: Json
  try {
    const reset = { tag: '!reset', resolve: () => RESET as never }
    override = parse(overrideText, { customTags: [{ ...reset, collection: 'seq' }, { ...reset, collection: 'map' }, reset] }) as Json
  } catch (err) {
    return [`not YAML: ${(err as Error).message}`]
  }
  const merged = mergeOverride(parse(baseText), override) as Json
  const problems = checkCompose(stringify(merged), schema, envExample)
  const services = (merged.services ?? {}) as Record<string, Json>
  const gateway = Object.entries(services).find(([, s]) => s.build !== undefined)
  if (gateway === undefined) return [...problems, 'no service is built from the Dockerfile']
  const [name, service] = gateway
  if (!((service.deploy?.replicas ?? 1) >= 2)) problems.push(`${name}: deploy.replicas must be 2 or more`)
  if ((service.ports ?? []).length > 0) problems.push(`${name}: replicas cannot share a host port; reset ports (ports: !reset []) and publish the proxy's`)
  const proxies = Object.entries(services).filter(([other, s]) => other !== name && s.depends_on?.[name] !== undefined && (s.ports ?? []).length > 0)
  if (proxies.length === 0) problems.push(`no proxy publishes a port in front of ${name}`)
  for (const [proxy, s] of proxies) {
    for (const mount of (s.volumes ?? []) as Array<string | Json>) {
      const source = typeof mount === 'string' ? mount.split(':')[0] : mount.source
      if (typeof source === 'string' && source.startsWith('.') && !existsSync(join(root, source))) problems.push(`${proxy}: mounts ${source}, which does not exist`)
    }
  }
  return problems
}

/** Problems of a compose file, empty when it passes: the spec's schema, then our rules. */
export function checkCompose (text: string, schema: Json, envExample: string): string[] {
  const problems: string[] = []
  let doc: Json
  try {
    doc = parse(text) as Json
  } catch (err) {
    return [`not YAML: ${(err as Error).message}`]
  }
  // the spec names its meta-schema by an https URL Ajv does not register: skip checking the schema itself
  const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false })
  addFormats.default(ajv)
  const validate = ajv.compile(schema)
  if (validate(doc) !== true) {
    for (const e of validate.errors ?? []) problems.push(`schema: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
  }
  const services = (doc?.services ?? {}) as Record<string, Json>
  const volumes = Object.keys((doc?.volumes ?? {}) as Json)
  for (const [name, service] of Object.entries(services)) {
    const image = service.image as string | undefined
    if (image === undefined && service.build === undefined) problems.push(`${name}: neither image nor build`)
    if (image !== undefined && service.build === undefined) {
      const tag = /:([^/:@]+)$/.exec(image)?.[1]
      if (tag === undefined || tag === 'latest') problems.push(`${name}: image ${image} must be pinned to an explicit tag, never latest`)
      if (/(^|\/)minio\/(minio|mc)(:|$)/.test(image) && !image.startsWith('quay.io/minio/')) problems.push(`${name}: MinIO images come from quay.io/minio (Docker Hub's were removed)`)
      if (/^quay\.io\/minio\//.test(image) && !/:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/.test(image)) problems.push(`${name}: pin a MinIO RELEASE.<date> tag`)
    }
    const oneShot = service.restart === 'no'
    if (!oneShot && service.healthcheck?.test === undefined) problems.push(`${name}: a long-running service needs a healthcheck`)
    for (const [dependency, condition] of Object.entries((service.depends_on ?? {}) as Json)) {
      const wanted = services[dependency]?.restart === 'no' ? 'service_completed_successfully' : 'service_healthy'
      if (condition?.condition !== wanted) problems.push(`${name}: depends_on ${dependency} must wait for condition ${wanted}`)
    }
    const environment = (service.environment ?? {}) as Json
    if (Array.isArray(environment)) problems.push(`${name}: write environment as a mapping`)
    for (const [variable, value] of Object.entries(environment)) {
      if (SECRET_NAME.test(variable) && typeof value === 'string' && value !== '' && !/^\$\{[A-Z_][A-Z0-9_]*(:[?-][^}]*)?\}$/.test(value)) {
        problems.push(`${name}: ${variable} is written inline; take it from .env (\${${variable}})`)
      }
    }
    for (const mount of (service.volumes ?? []) as Array<string | Json>) {
      const source = typeof mount === 'string' ? mount.split(':')[0] : mount.source
      if (typeof source === 'string' && !source.startsWith('.') && !source.startsWith('/') && !volumes.includes(source)) problems.push(`${name}: volume ${source} is not declared`)
    }
  }
  if (volumes.length === 0) problems.push('no named volume: object data would live in the container')
  const gateway = Object.values(services).find((s) => s.build !== undefined)
  if (gateway === undefined) problems.push('no service is built from the Dockerfile')
  else {
    const env = (gateway.environment ?? {}) as Json
    if (env.S3_PUBLIC_ENDPOINT === undefined) problems.push('the gateway needs S3_PUBLIC_ENDPOINT: presigned URLs must name a host clients reach')
    if (env.S3_ENDPOINT === undefined) problems.push('the gateway needs S3_ENDPOINT')
    const envFiles = ([] as unknown[]).concat(gateway.env_file ?? []).map((e) => typeof e === 'string' ? e : (e as Json)?.path)
    if (!envFiles.some((path) => path === '.env' || path === './.env')) problems.push('the gateway needs env_file .env: every setting .env.example lists must reach it')
  }
  const documented = new Set([...envExample.matchAll(/^#?\s*([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]))
  for (const variable of composeVariables(text)) {
    if (!documented.has(variable)) problems.push(`.env.example does not document ${variable}`)
  }
  return problems
}

export interface DockerInstruction { keyword: string, args: string, line: number }

/** Instructions with continuation lines joined and comments dropped. */
export function parseDockerfile (text: string): DockerInstruction[] {
  const instructions: DockerInstruction[] = []
  let pending = ''
  let start = 0
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd()
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return
    if (pending === '') start = index + 1
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' '
      return
    }
    const whole = (pending + line).trim()
    pending = ''
    const space = whole.search(/\s/)
    instructions.push({ keyword: whole.slice(0, space).toUpperCase(), args: whole.slice(space + 1).trim(), line: start })
  })
  return instructions
}

/** Problems of a Dockerfile that need no build: base, user, env, healthcheck, signals, copied files. */
export function checkDockerfile (text: string, context: string): string[] {
  const problems: string[] = []
  const instructions = parseDockerfile(text)
  const args = new Map<string, string>()
  for (const i of instructions.filter((i) => i.keyword === 'ARG')) {
    const [name, value] = i.args.split('=')
    if (name !== undefined && value !== undefined) args.set(name, value)
  }
  const expand = (value: string): string => value.replace(/\$\{?([A-Z_]+)\}?/g, (_m, name: string) => args.get(name) ?? '')
  const froms = instructions.filter((i) => i.keyword === 'FROM')
  if (froms.length < 2) problems.push('not multi-stage: build with dev dependencies, run with production ones')
  for (const from of froms) {
    const image = expand(from.args.split(/\s+/)[0] ?? '')
    if (!/^node:24([.-]|$)/.test(image)) problems.push(`line ${from.line}: base ${image} is not Node 24 LTS`)
  }
  const finalStart = instructions.indexOf(froms.at(-1) as DockerInstruction)
  const final = instructions.slice(finalStart)
  const user = final.filter((i) => i.keyword === 'USER').at(-1)
  if (user === undefined || /^(root|0)(:|$)/.test(user.args)) problems.push('the runtime stage must run as a non-root USER')
  const env = final.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ')
  if (!/NODE_ENV=production/.test(env)) problems.push('the runtime stage must set NODE_ENV=production (no embedded S3, JSON logs)')
  const health = final.find((i) => i.keyword === 'HEALTHCHECK')
  if (health === undefined) problems.push('no HEALTHCHECK')
  else if (!/CMD \["node",/.test(health.args) || !health.args.includes('/healthz')) problems.push('HEALTHCHECK must probe /healthz with node (the image has no curl)')
  const cmd = final.find((i) => i.keyword === 'CMD')
  if (cmd === undefined || !cmd.args.startsWith('["node"')) problems.push('CMD must be the exec form running node directly, so that SIGTERM reaches it (no npm, no shell)')
  for (const i of instructions) {
    if (i.keyword === 'RUN' && /npm ci/.test(i.args) && final.includes(i) && !/--omit=dev/.test(i.args)) problems.push(`line ${i.line}: the runtime stage installs dev dependencies`)
    if (i.keyword !== 'COPY' || i.args.startsWith('--from=')) continue
    const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'))
    for (const source of parts.slice(0, -1)) {
      if (!existsSync(join(context, source))) problems.push(`line ${i.line}: COPY ${source}: no such file in the build context`)
    }
  }
  if (!existsSync(join(context, '.dockerignore'))) problems.push('no .dockerignore')
  else {
    const ignored = readFileSync(join(context, '.dockerignore'), 'utf8')
    for (const entry of ['node_modules', '.env', '.git']) if (!ignored.split('\n').includes(entry)) problems.push(`.dockerignore should leave out ${entry}`)
  }
  return problems
}

// The Dify plugin declaration is the route table: manifest.yaml lists the
// endpoint groups, each group lists one YAML per tool route (DIFY.md §4), and
// the server registers its tool routes from those YAMLs. A route without a
// YAML, or a YAML without a handler, stops the server at build time.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

/** the repository root: where manifest.yaml and endpoints/ live (src/dify or dist/dify → ../..) */
export const PLUGIN_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

export const ENDPOINT_METHODS = ['HEAD', 'GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const
export type EndpointMethod = typeof ENDPOINT_METHODS[number]

export interface EndpointRoute {
  /** the endpoint YAML, relative to the plugin root */
  file: string
  method: EndpointMethod
  /** the path as declared, werkzeug syntax: /download/<path:key> */
  path: string
  /** the same path for Fastify: /download/* */
  url: string
  /** extra.python.source */
  source: string
}

export class RouteTableError extends Error {
  override name = 'RouteTableError'
}

/**
 * werkzeug rule → Fastify route: `<name>`, `<string:name>`, `<int:name>` … →
 * `:name`; `<path:name>` (slashes included) → the trailing wildcard `*`.
 */
export function werkzeugToFastify (path: string): string {
  if (!path.startsWith('/')) throw new RouteTableError(`a route path must start with "/" (got ${JSON.stringify(path)})`)
  const converted = path.replace(/<(?:([a-z_]+)(?:\([^)]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>/g, (_match, converter: string | undefined, name: string) => {
    if (converter === 'path' || converter === 'any') return '*'
    return `:${name}`
  })
  if (/[<>]/.test(converted)) throw new RouteTableError(`unsupported werkzeug rule ${JSON.stringify(path)}`)
  const star = converted.indexOf('*')
  if (star !== -1 && star !== converted.length - 1) throw new RouteTableError(`<path:…> must end the rule (got ${JSON.stringify(path)})`)
  return converted
}

function readYaml (root: string, file: string): Record<string, unknown> {
  const full = join(root, file)
  let doc: unknown
  try {
    doc = parse(readFileSync(full, 'utf8'))
  } catch (err) {
    throw new RouteTableError(`${file}: ${(err as Error).message}`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new RouteTableError(`${file}: not a YAML mapping`)
  return doc as Record<string, unknown>
}

function stringList (value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new RouteTableError(`${what} must be a list of file paths`)
  return value
}

function endpointRoute (root: string, file: string): EndpointRoute {
  const doc = readYaml(root, file)
  const { path, method } = doc
  if (typeof path !== 'string') throw new RouteTableError(`${file}: path must be a string`)
  const upper = typeof method === 'string' ? method.toUpperCase() : ''
  if (!(ENDPOINT_METHODS as readonly string[]).includes(upper)) {
    throw new RouteTableError(`${file}: method must be one of ${ENDPOINT_METHODS.join(' ')} (got ${JSON.stringify(method)})`)
  }
  const source = ((doc.extra as { python?: { source?: unknown } } | undefined)?.python?.source)
  if (typeof source !== 'string') throw new RouteTableError(`${file}: extra.python.source is missing`)
  if (!existsSync(join(root, source))) throw new RouteTableError(`${file}: extra.python.source ${source} does not exist (Dify's packaging would fail)`)
  return { file, method: upper as EndpointMethod, path, url: werkzeugToFastify(path), source }
}

/** Read manifest.yaml → its endpoint groups → their endpoint YAMLs. */
export function loadRouteTable (root: string = PLUGIN_ROOT): EndpointRoute[] {
  const manifest = readYaml(root, 'manifest.yaml')
  const groups = stringList((manifest.plugins as { endpoints?: unknown } | undefined)?.endpoints, 'manifest.yaml plugins.endpoints')
  const routes: EndpointRoute[] = []
  const seen = new Map<string, string>()
  for (const group of groups) {
    const files = stringList(readYaml(root, group).endpoints, `${group} endpoints`)
    for (const file of files) {
      const route = endpointRoute(root, relative(root, join(root, file)))
      const id = `${route.method} ${route.url}`
      const twin = seen.get(id)
      if (twin !== undefined) throw new RouteTableError(`${route.file} and ${twin} both declare ${id}`)
      seen.set(id, route.file)
      routes.push(route)
    }
  }
  return routes
}

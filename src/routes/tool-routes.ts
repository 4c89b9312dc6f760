// The tool routes, registered from the route table (endpoints/*.yaml, read by
// src/dify/endpoints.ts): each route module offers handlers by method and
// werkzeug path, and every YAML must find one — and every handler a YAML.
import type { FastifyInstance, RouteHandlerMethod, RouteShorthandOptions } from 'fastify'
import { RouteTableError, type EndpointMethod, type EndpointRoute } from '../dify/endpoints.js'

export interface ToolRoute {
  method: EndpointMethod
  /** as written in the endpoint YAML */
  path: string
  options?: RouteShorthandOptions
  handler: RouteHandlerMethod
}

/** One tool's routes, registered in a scope of their own. */
export interface ToolModule {
  name: string
  /** prepares the scope before the routes (e.g. body parsers) */
  setup?: (scope: FastifyInstance) => Promise<void>
  routes: (scope: FastifyInstance) => ToolRoute[]
}

export default async function toolRoutes (app: FastifyInstance, options: { table: EndpointRoute[], modules: ToolModule[] }): Promise<void> {
  const declared = new Map(options.table.map((route) => [`${route.method} ${route.path}`, route]))
  const unclaimed = new Set(declared.keys())
  for (const module of options.modules) {
    await app.register(async (scope) => {
      await module.setup?.(scope)
      for (const route of module.routes(scope)) {
        const id = `${route.method} ${route.path}`
        const entry = declared.get(id)
        if (entry === undefined) throw new RouteTableError(`${module.name} handles ${id}, but no endpoints/*.yaml declares it (add one and list it in the group YAML)`)
        unclaimed.delete(id)
        scope.route({ ...route.options, method: route.method, url: entry.url, handler: route.handler })
      }
    })
  }
  const orphans = [...unclaimed].map((id) => `${declared.get(id)?.file ?? '?'} (${id})`)
  if (orphans.length > 0) throw new RouteTableError(`no handler for ${orphans.join(', ')}`)
}

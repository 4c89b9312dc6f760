// The tools' HTTP face: every route of every tool in the registry, registered
// from the route table (endpoints/*.yaml, read by src/dify/endpoints.ts) with
// the tool's parameter schema as its validation and the tool's permission
// enforced by the auth plugin. Every route must find a YAML, and every YAML a
// route: the server refuses to build otherwise.
import type { FastifyInstance } from 'fastify'
import { RouteTableError, type EndpointRoute } from '../dify/endpoints.js'
import { formBodies } from '../tools/form-bodies.js'
import { paramsSchema, type ToolSpec } from '../tools/registry.js'

export default async function httpFace (app: FastifyInstance, options: { table: EndpointRoute[], tools: ToolSpec[] }): Promise<void> {
  const declared = new Map(options.table.map((route) => [`${route.method} ${route.path}`, route]))
  const unclaimed = new Set(declared.keys())
  for (const tool of options.tools) {
    const schema = paramsSchema(tool)
    await app.register(async (scope) => {
      const routes = tool.routes(scope)
      if (tool.setup !== undefined) await tool.setup(scope)
      else if (routes.some((r) => r.params === 'body')) await formBodies(scope, Math.max(...routes.map((r) => r.options?.bodyLimit ?? app.initialConfig.bodyLimit ?? 1024 * 1024)))
      for (const route of routes) {
        const id = `${route.method} ${route.path}`
        const entry = declared.get(id)
        if (entry === undefined) throw new RouteTableError(`${tool.name} handles ${id}, but no endpoints/*.yaml declares it (add one and list it in the group YAML)`)
        unclaimed.delete(id)
        const validation = route.params === 'custom' ? {} : { querystring: schema, ...(route.params === 'body' ? { body: schema } : {}) }
        scope.route({
          ...route.options,
          schema: { ...validation, ...route.options?.schema },
          config: { ...route.options?.config, permission: tool.permission, tool: tool.name },
          method: route.method,
          url: entry.url,
          handler: route.handler
        })
      }
    })
  }
  const orphans = [...unclaimed].map((id) => `${declared.get(id)?.file ?? '?'} (${id})`)
  if (orphans.length > 0) throw new RouteTableError(`no handler for ${orphans.join(', ')}`)
}

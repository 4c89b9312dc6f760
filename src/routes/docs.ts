// GET /openapi.json (the document Dify imports as a custom tool) and /docs
// (Swagger UI over the same document). Public: they describe, they grant nothing.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { openApiDocument } from '../faces/openapi.js'
import { TOOLS } from '../tools/index.js'
import { VERSION } from '../version.js'

export default async function docsRoutes (app: FastifyInstance): Promise<void> {
  const document = openApiDocument(app.config, VERSION, TOOLS)
  // every route of this scope, Swagger UI's assets included, needs no key
  app.addHook('onRoute', (route) => { route.config = { ...route.config, public: true } })

  app.get('/openapi.json', async (_request, reply) => await reply.header('cache-control', 'no-cache').send(document))
  await app.register(swagger, { mode: 'static', specification: { document: document as never } })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { displayOperationId: true, deepLinking: true, defaultModelsExpandDepth: 0 },
    staticCSP: true
  })
}

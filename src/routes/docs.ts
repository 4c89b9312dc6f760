// GET /openapi.json (the document Dify imports as a custom tool) and /docs
// (Swagger UI over the same document). Public: they describe, they grant nothing.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { openApiDocument } from '../faces/openapi.js'
import { TOOLS } from '../tools/index.js'
import { VERSION } from '../version.js'

/** a host name or address and an optional port: nothing else is echoed into the document */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

export default async function docsRoutes (app: FastifyInstance): Promise<void> {
  const document = openApiDocument(app.config, VERSION, TOOLS)
  // every route of this scope, Swagger UI's assets included, needs no key
  app.addHook('onRoute', (route) => { route.config = { ...route.config, public: true } })

  // with PUBLIC_URL unset, the server is the host the request came to: an
  // import from http://dify-s3-gateway:3000/openapi.json works as served
  app.get('/openapi.json', async (request, reply) => {
    reply.header('cache-control', 'no-cache')
    const host = request.host
    if (app.config.publicUrlSet || !HOST.test(host)) return await reply.send(document)
    return await reply.header('vary', 'host').send({ ...document, servers: [{ url: `${request.protocol}://${host}` }] })
  })
  await app.register(swagger, { mode: 'static', specification: { document: document as never } })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { displayOperationId: true, deepLinking: true, defaultModelsExpandDepth: 0 },
    staticCSP: true
  })
}

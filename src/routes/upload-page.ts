// The example upload page (examples/upload-page/), only with UPLOAD_PAGE=true:
// Uppy's Dashboard and @uppy/aws-s3 against this gateway's /s3/ routes. Uppy's
// browser bundle comes from the `uppy` package (a development dependency:
// `npm install uppy` where the page is wanted without it).
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'
import { PLUGIN_ROOT } from '../dify/endpoints.js'

const ASSETS: Record<string, string> = {
  'uppy.min.mjs': 'text/javascript; charset=utf-8',
  'uppy.min.css': 'text/css; charset=utf-8'
}

function uppyDist (): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('uppy/package.json')), 'dist')
  } catch {
    return undefined
  }
}

export default async function uploadPage (app: FastifyInstance): Promise<void> {
  const config = { public: true }
  const dist = uppyDist()
  app.get('/upload-page', { config }, async (_request, reply) => {
    const html = await readFile(join(PLUGIN_ROOT, 'examples', 'upload-page', 'index.html'), 'utf8')
    return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html)
  })
  app.get('/upload-page/:asset', { config }, async (request, reply) => {
    const asset = (request.params as { asset: string }).asset
    const type = ASSETS[asset]
    if (type === undefined) throw new AppError('ROUTE_NOT_FOUND', `No asset ${asset}`)
    if (dist === undefined) throw new AppError('ROUTE_NOT_FOUND', 'The upload page needs the uppy package (npm install uppy)')
    return await reply.type(type).header('cache-control', 'max-age=3600').send(await readFile(join(dist, asset)))
  })
}

// The form bodies of the routes that take their parameters in a body.
import multipart from '@fastify/multipart'
import type { FastifyInstance } from 'fastify'

/**
 * Dify's HTTP node offers JSON, form-urlencoded and form-data bodies: a route
 * that takes its parameters as JSON takes them as either form too, with the
 * same validation. Form-data file parts carry no parameter: they are drained.
 */
export async function formBodies (scope: FastifyInstance, fieldSize: number): Promise<void> {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: fieldSize }, (_request, body, done) => {
    const fields: Record<string, string> = {}
    for (const [name, value] of new URLSearchParams(body as string)) if (!(name in fields)) fields[name] = value
    done(null, fields)
  })
  await scope.register(multipart, {
    attachFieldsToBody: 'keyValues',
    onFile: async (part) => { part.file.resume() },
    limits: { fieldSize, fields: 64, files: 16, parts: 128, headerPairs: 64 }
  })
}

// The service's version, from package.json: /openapi.json and the MCP server's info name it.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PLUGIN_ROOT } from './dify/endpoints.js'

export const VERSION = (JSON.parse(readFileSync(join(PLUGIN_ROOT, 'package.json'), 'utf8')) as { version: string }).version

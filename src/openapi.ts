// The OpenAPI 3.0 document served at /openapi.json (and shown at /docs), built
// from the TypeBox schemas the routes validate with. It is shaped for Dify's
// custom-tool importer (DIFY.md §2): one operation per tool, one request
// content type each, flat top-level body properties with one plain `type`,
// no $ref inside a body, no parameter both in the query and the body.
import type { TSchema } from '@sinclair/typebox'
import type { Config } from './config.js'
import { Base64UploadBody, DownloadParams, PresignBody, UploadParams, UrlUploadBody } from './schemas/common.js'
import { Base64Download, ErrorResult, PresignResult, UploadResult } from './schemas/responses.js'

type Json = Record<string, unknown>

/** aliases and nested objects stay out of the tool parameters an LLM sees */
const HIDDEN = new Set(['generate_presign_url', 'presign_expiry', 'file'])

/** A JSON value without TypeBox's symbols and `$id`s. */
function plain (schema: TSchema): Json {
  const { $id: _id, ...rest } = JSON.parse(JSON.stringify(schema)) as Json
  return rest
}

/**
 * One property as Dify reads it: a single `type`. The routes also take the
 * string forms of booleans and integers (query values, form fields); the
 * document names the real type.
 */
function toolProperty (schema: TSchema): Json {
  const json = plain(schema)
  const members = json.anyOf as Json[] | undefined
  if (members === undefined) return json
  const typed = members.find((m) => m.type !== 'string') ?? members[0]
  return { ...typed, description: json.description }
}

function toolProperties (properties: Record<string, TSchema>): Record<string, Json> {
  return Object.fromEntries(Object.entries(properties)
    .filter(([name]) => !HIDDEN.has(name))
    .map(([name, schema]) => [name, toolProperty(schema)]))
}

function jsonBody (properties: Record<string, TSchema>, required: string[]): Json {
  return {
    required: true,
    // OpenAPI 3.0: `required` is absent rather than empty
    content: { 'application/json': { schema: { type: 'object', ...(required.length > 0 ? { required } : {}), properties: toolProperties(properties) } } }
  }
}

function queryParameters (properties: Record<string, TSchema>, required: string[] = []): Json[] {
  return Object.entries(toolProperties(properties)).map(([name, schema]) => {
    const { description, ...rest } = schema
    return { name, in: 'query', required: required.includes(name), description, schema: rest }
  })
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const jsonAnswer = (description: string, name: string): Json => ({ description, content: { 'application/json': { schema: ref(name) } } })
const errorAnswer = (description: string): Json => jsonAnswer(description, 'Error')

const ERRORS = {
  400: errorAnswer('Bad input: MISSING_KEY, INVALID_KEY, MISSING_FILE, INVALID_BASE64, INVALID_PARAMETER, CHECKSUM_MISMATCH, URL_NOT_ALLOWED.'),
  401: errorAnswer('UNAUTHORIZED: missing or wrong API key.'),
  413: errorAnswer('PAYLOAD_TOO_LARGE: over MAX_UPLOAD_BYTES or BASE64_MAX_BYTES.'),
  502: errorAnswer('UPSTREAM_ERROR (S3 failed) or FETCH_FAILED (file_url answered an error).'),
  503: errorAnswer('UPSTREAM_UNAVAILABLE: S3 is down.'),
  504: errorAnswer('UPSTREAM_TIMEOUT: S3 is too slow.')
}

const STORED = { 201: jsonAnswer('Stored.', 'UploadResult'), ...ERRORS }

const KEY_RULES = 'The key comes from s3_key, else filename; it must not contain control characters or "." / ".." path segments.'

export function openApiDocument (config: Config, version: string): Json {
  return {
    openapi: '3.0.3',
    info: {
      title: 'dify-s3-gateway',
      version,
      description: 'S3 tools for Dify workflows and agents: upload a file (multipart or from a URL), upload base64, download a file or base64, and presign URLs. ' +
        'Bytes stream end to end. Dify\'s HTTP node takes at most 10 MiB of binary and 1 MiB of text: for bigger objects ask for a presigned URL.'
    },
    servers: [{ url: config.publicUrl }],
    security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
    paths: {
      '/upload/file': {
        post: {
          operationId: 's3_upload_file',
          summary: 'Upload a file to S3',
          description: `Store the given file in the bucket and answer its key, size, ETag and SHA-256. ${KEY_RULES} Without s3_key or filename the file's own name is used.`,
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['file'],
                  properties: {
                    ...toolProperties(UploadParams),
                    file: { type: 'string', format: 'binary', description: 'The file to upload.' }
                  }
                }
              }
            }
          },
          responses: STORED
        }
      },
      '/upload/url': {
        post: {
          operationId: 's3_upload_from_url',
          summary: 'Upload a file to S3 from a URL',
          description: 'Fetch file_url (a Dify file URL, or an http(s) URL from an origin the gateway allows) and store it in the bucket. ' +
            `${KEY_RULES} Without them the name the file's server gives is used. Answers the key, size, ETag and SHA-256.`,
          requestBody: jsonBody(UrlUploadBody.properties, ['file_url']),
          responses: STORED
        }
      },
      '/upload/base64': {
        post: {
          operationId: 's3_upload_base64',
          summary: 'Upload base64 content to S3',
          description: `Decode file_base64 and store it in the bucket. ${KEY_RULES} Answers the key, size, ETag and SHA-256.`,
          requestBody: jsonBody(Base64UploadBody.properties, ['file_base64']),
          responses: STORED
        }
      },
      '/download/file': {
        get: {
          operationId: 's3_download_file',
          summary: 'Download an object from S3 as a file',
          description: `Answer the object's bytes as a file (Content-Disposition: attachment). ${KEY_RULES} ` +
            'For objects above 10 MiB set generate_presigned_url=true and use the URL in the X-Presigned-Url header instead.',
          parameters: queryParameters(DownloadParams),
          responses: {
            200: {
              description: 'The object.',
              headers: { 'Content-Disposition': { schema: { type: 'string' }, description: 'attachment; filename=…' } },
              content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
            },
            404: errorAnswer('NOT_FOUND: no such object.'),
            ...ERRORS
          }
        }
      },
      '/download/base64': {
        get: {
          operationId: 's3_download_base64',
          summary: 'Download an object from S3 as base64',
          description: `Answer the object as JSON with content_base64, size, content type and ETag. ${KEY_RULES} ` +
            'Objects above 1 MiB come with a warning (too big for Dify text); above BASE64_MAX_BYTES use s3_download_file or a presigned URL.',
          parameters: queryParameters(DownloadParams),
          responses: { 200: jsonAnswer('The object, base64-encoded.', 'Base64Download'), 404: errorAnswer('NOT_FOUND: no such object.'), ...ERRORS }
        }
      },
      '/presign': {
        post: {
          operationId: 's3_presign',
          summary: 'Create a presigned S3 URL',
          description: 'Answer a URL that downloads (method GET) or uploads (method PUT) the object directly, without credentials, until it expires. ' +
            'Use it for files above 10 MiB. With content_type on a PUT, the uploader must send that Content-Type.',
          requestBody: jsonBody(PresignBody.properties, []),
          responses: { 200: jsonAnswer('The URL.', 'PresignResult'), ...ERRORS }
        }
      }
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <one of API_KEYS>' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'X-API-Key: <one of API_KEYS>' }
      },
      schemas: {
        UploadResult: plain(UploadResult),
        Base64Download: plain(Base64Download),
        PresignResult: plain(PresignResult),
        Error: plain(ErrorResult)
      }
    }
  }
}

// S3 client factory. The checksum settings are mandatory (S3-SERVERS.md): the
// SDK's default CRC32 trailer corrupts streamed objects on s3rver, is refused
// by Ceph, and puts checksum parameters into presigned PUT URLs.
import http from 'node:http'
import https from 'node:https'
import { rootCertificates } from 'node:tls'
import { S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import type { S3Config } from '../config.js'

export interface SdkLogger {
  debug: (...content: unknown[]) => void
  info: (...content: unknown[]) => void
  warn: (...content: unknown[]) => void
  error: (...content: unknown[]) => void
}

export interface ClientOptions {
  /** the endpoint to talk to (or sign for); defaults to config.endpoint */
  endpoint?: string | undefined
  /** presigning never adds checksum parameters, whatever S3_CHECKSUM_MODE says */
  forPresign?: boolean
  logger?: SdkLogger
  /** keep-alive agents to share with other requests to the same endpoint */
  agents?: Agents
}

export interface Agents {
  http: http.Agent
  https: https.Agent
}

/** Keep-alive agents capped at S3_MAX_SOCKETS; a private CA is added to the system roots, verification is never turned off. */
export function createAgents (config: S3Config): Agents {
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets }
  return {
    http: new http.Agent(agentOptions),
    https: new https.Agent({
      ...agentOptions,
      ...(config.caBundle !== undefined ? { ca: [...rootCertificates, config.caBundle] } : {})
    })
  }
}

export function createS3Client (config: S3Config, options: ClientOptions = {}): S3Client {
  const endpoint = options.endpoint ?? config.endpoint
  if (endpoint === undefined) throw new Error('createS3Client: no S3 endpoint configured')
  const checksum = config.checksumMode === 'when_supported' && options.forPresign !== true ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED'
  const agents = options.agents ?? createAgents(config)
  return new S3Client({
    endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    maxAttempts: 3,
    // our agents are our own, so the SDK never waits for "100 Continue":
    // the header would only cost the server an interim answer
    expectContinueHeader: false,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.timeoutMs,
      // an idle timer, also over streamed bodies in both directions
      socketTimeout: config.timeoutMs,
      throwOnRequestTimeout: true,
      httpAgent: agents.http,
      httpsAgent: agents.https
    })
  })
}

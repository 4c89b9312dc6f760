declare module 's3rver' {
  interface S3rverOptions {
    address?: string
    port?: number
    directory: string
    silent?: boolean
    resetOnClose?: boolean
    configureBuckets?: Array<{ name: string, configs?: Array<string | Buffer> }>
  }
  export default class S3rver {
    constructor (options: S3rverOptions)
    run (): Promise<{ address: string, port: number }>
    close (): Promise<void>
    httpServer?: import('node:http').Server
    store: {
      putObject: (object: { content: unknown }) => Promise<unknown>
      getMetadata: (bucket: string, key: string) => Promise<Record<string, string>>
      getResourcePath: (bucket: string, key: string | undefined, resource: string) => string
      putPart: (bucket: string, uploadId: string, partNumber: string | number, content: NodeJS.ReadableStream) => Promise<{ size: number, md5: string }>
      getObject: (bucket: string, key: string, options?: { start?: number, end?: number }) => Promise<any>
      listObjects: (bucket: string, options: { prefix?: string, maxKeys?: number }) => Promise<{ objects: Array<{ key: string, size: number, lastModifiedDate: Date, metadata: Record<string, string> }> }>
    }

    middleware: Array<(ctx: any, next: () => Promise<void>) => Promise<void>>
  }
}

declare module 's3rver/lib/models/error.js' {
  export default class S3Error extends Error {
    constructor (code: string, message: string, detail?: Record<string, string>)
    status: number
  }
}

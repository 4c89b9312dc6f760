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
    store: {
      putObject: (object: { content: unknown }) => Promise<unknown>
      listObjects: (bucket: string, options: { prefix?: string, maxKeys?: number }) => Promise<{ objects: Array<{ key: string, size: number, lastModifiedDate: Date, metadata: Record<string, string> }> }>
    }

    middleware: Array<(ctx: any, next: () => Promise<void>) => Promise<void>>
  }
}

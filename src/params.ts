// Parameters from the body and the query, merged and coerced in one place
// (API.md "Shared parameters"): a body value wins over the query, "" means
// absent, booleans take true/false/1/0/yes/no, numbers take numeric strings.
import { ConfigError, parseBoolean } from './config.js'
import { invalidParameter } from './errors.js'
import { isMediaType } from './http/headers.js'

export type ParamSource = Record<string, unknown> | undefined | null

export class Params {
  private readonly sources: Array<Record<string, unknown>>

  /** sources in precedence order: the body first, then the query */
  constructor (...sources: ParamSource[]) {
    this.sources = sources.filter((s): s is Record<string, unknown> => s !== undefined && s !== null && typeof s === 'object')
  }

  private raw (names: readonly string[]): { name: string, value: unknown } | undefined {
    for (const source of this.sources) {
      for (const name of names) {
        const value = source[name]
        if (value !== undefined && value !== null && value !== '') return { name, value }
      }
    }
    return undefined
  }

  /** the first value given under any of `names`, as it came */
  value (...names: string[]): unknown {
    return this.raw(names)?.value
  }

  string (...names: string[]): string | undefined {
    const found = this.raw(names)
    if (found === undefined) return undefined
    if (typeof found.value !== 'string') throw invalidParameter(`${found.name} must be a string`)
    return found.value
  }

  boolean (...names: string[]): boolean | undefined {
    const found = this.raw(names)
    if (found === undefined) return undefined
    try {
      return parseBoolean(found.value, found.name)
    } catch (err) {
      throw invalidParameter((err as ConfigError).message)
    }
  }

  integer (...names: string[]): number | undefined {
    const found = this.raw(names)
    if (found === undefined) return undefined
    const { name, value } = found
    const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN
    if (!Number.isSafeInteger(number)) throw invalidParameter(`${name} must be an integer (got ${JSON.stringify(value)})`)
    return number
  }

  /** A list of strings: a JSON array, the text of one, or the items separated by commas (a query or form field) */
  stringList (name: string): string[] | undefined {
    const value = this.value(name)
    if (value === undefined) return undefined
    let list: unknown = value
    if (typeof value === 'string') {
      const text = value.trim()
      try {
        list = text.startsWith('[') ? JSON.parse(text) : text.split(',').map((k) => k.trim()).filter((k) => k !== '')
      } catch {
        throw invalidParameter(`${name} must be a JSON array of strings or a comma-separated list`)
      }
    }
    if (!Array.isArray(list) || !list.every((k) => typeof k === 'string')) throw invalidParameter(`${name} must be a list of strings`)
    return list as string[]
  }

  /** An expiry in seconds, within 1..max. */
  expiry (defaultSeconds: number, maxSeconds: number, ...names: string[]): number {
    const seconds = this.integer(...names) ?? defaultSeconds
    if (seconds < 1 || seconds > maxSeconds) {
      throw invalidParameter(`${names[0] ?? 'expiry'} must be between 1 and ${maxSeconds} seconds (got ${seconds})`)
    }
    return seconds
  }

  /** content_type: a media type, or absent */
  contentType (): string | undefined {
    const value = this.string('content_type')?.trim()
    if (value === undefined || value === '') return undefined
    if (!isMediaType(value)) throw invalidParameter(`content_type must be a media type such as "application/pdf" (got ${JSON.stringify(value)})`)
    return value
  }

  sha256 (): string | undefined {
    const value = this.string('sha256')
    if (value === undefined) return undefined
    if (!/^[0-9a-fA-F]{64}$/.test(value)) throw invalidParameter('sha256 must be 64 hexadecimal characters')
    return value.toLowerCase()
  }

  /** generate_presigned_url (+ alias) and its expiry, or undefined when not asked for */
  presign (defaultSeconds: number, maxSeconds: number): number | undefined {
    const expiry = this.expiry(defaultSeconds, maxSeconds, 'presigned_expiration', 'presign_expiry')
    return this.boolean('generate_presigned_url', 'generate_presign_url') === true ? expiry : undefined
  }
}

// Medians, ratios and the targets, printed as Markdown tables (the
// README's Performance section is a copy of them) and kept as JSON.
import type { LoadResult } from './clients.js'
import { MiB } from './clients.js'

/**
 * service; the bare relay; the SDK hop (the relay's pipe through the AWS SDK,
 * hashing uploads); direct to S3; and for uploads of unknown length the relay
 * in parts (hashing, and cutting the body into multipart parts)
 */
export type Via = 'service' | 'relay' | 'sdk' | 'direct' | 'parts'
/** the vias that run in a hop process whose CPU is measured */
type Hop = 'service' | 'relay' | 'sdk' | 'parts'
const GiB = 1024 * MiB

export interface Sample {
  seconds: number
  /** CPU seconds of the hop process (service, or relay for the relay and the SDK hop) for this transfer: user + system */
  cpu: number | undefined
  cpuUser?: number
  cpuSystem?: number
  /** the share of all cores' time the machine was busy during the transfer (client, hop and S3 together), 0–1 */
  busy?: number
}

export interface ThroughputRow {
  name: string
  bytes: number
  samples: Record<Via, Sample[]>
  /** VmHWM of the service process that ran this case's rounds */
  peakRss: number | undefined
  /** uploads of unknown length: S3 alone taking the same bytes as parts from memory, per round */
  ceiling?: { partMiB: number, concurrency: number, mibPerSecond: number[], /** the machine's busy share of all cores, per round */ busy?: number[] }
  summary?: {
    mibPerSecond: Record<Via, number>
    cpuPerGiB: Record<Hop, number>
    /** the service's user-space share of its CPU per GiB */
    serviceUserPerGiB: number
    /** the machine's busy share of all cores during the transfer (median), by via */
    busy: Record<Via, number>
    vsRelay: number
    vsDirect: number
    cpuVsRelay: number
    /** the SDK hop's throughput and CPU per GiB against the relay's: the floor for a hop on the SDK */
    sdkVsRelay: number
    sdkCpuVsRelay: number
    /** S3's multipart ceiling against the relay */
    ceilingVsRelay?: number
    /** the relay in parts against the relay (NaN when not run): the floor for a body of unknown length */
    partsVsRelay: number
    partsCpuVsRelay: number
  }
}

export interface SmallRow {
  name: string
  results: Record<Via, Array<LoadResult & Sample>>
  peakRss: number | undefined
  summary?: {
    perSecond: Record<Via, number>
    p50Ms: Record<Via, number>
    p99Ms: Record<Via, number>
    errors: number
    vsRelay: number
    vsDirect: number
    /** CPU milliseconds per request of each hop */
    cpuMsPerRequest: Record<Hop, number>
    sdkVsRelay: number
  }
}

export interface MemoryRow {
  name: string
  size: number
  count: number
  mode: string
  idleRss: number
  peakRss: number
  seconds: number
}

/** the Dify-shaped load: `connections` at once, one `size` file each, service and relay */
export interface DifyRow {
  name: string
  op: 'upload' | 'download'
  size: number
  connections: number
  results: Record<'service' | 'relay', Array<LoadResult & Sample>>
  /** VmHWM of the service over every row of this connection count */
  peakRss: number | undefined
  summary?: {
    perSecond: Record<'service' | 'relay', number>
    mibPerSecond: Record<'service' | 'relay', number>
    p50Ms: Record<'service' | 'relay', number>
    p99Ms: Record<'service' | 'relay', number>
    cpuMsPerRequest: Record<'service' | 'relay', number>
    errors: number
    vsRelay: number
  }
}

/** chunked uploads with other UPLOAD_PART_SIZE_MIB / UPLOAD_PART_CONCURRENCY (service and relay only) */
export interface SweepRow {
  partMiB: number
  concurrency: number
  /** part buffers per upload: concurrency × part size */
  bufferMiB: number
  row: ThroughputRow
}

export interface Target {
  name: string
  measured: number
  comparison: '>=' | '<='
  limit: number
  unit: '×' | 'MiB' | 'requests'
  pass: boolean
  /**
   * the same ratio for the floor: the SDK hop (for base64, the SDK hop
   * encoding on the way), or for the throughput of an upload of unknown
   * length S3's multipart ceiling when that is lower. When the floor misses
   * too, no such hop meets the target on this machine.
   */
  floor?: number | undefined
  floorPass?: boolean | undefined
  /** what the floor is: 'SDK hop' or 'S3 multipart alone' */
  floorBy?: string | undefined
}

export interface Report {
  date: string
  seconds: number
  command: string
  machine: { cpu: string, cores: number, memoryGiB: number, kernel: string, node: string }
  backend: string
  settings: Record<string, unknown>
  throughput: ThroughputRow[]
  small: SmallRow[]
  memory: MemoryRow[]
  /** present when the dify case ran */
  dify?: DifyRow[]
  /** present when the sweep case ran */
  sweep?: SweepRow[]
  /** cases that threw: the others' results are still reported */
  failures?: Array<{ case: string, error: string }>
  targets: Target[]
}

export function median (values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function byVia<T> (pick: (via: Via) => T): Record<Via, T> {
  return { service: pick('service'), relay: pick('relay'), sdk: pick('sdk'), direct: pick('direct'), parts: pick('parts') }
}

function summarizeThroughput (row: ThroughputRow): NonNullable<ThroughputRow['summary']> {
  const mibPerSecond = byVia((via) => median(row.samples[via].map((s) => row.bytes / MiB / s.seconds)))
  const cpu = (via: Hop): number => median(row.samples[via].map((s) => (s.cpu ?? Number.NaN) / (row.bytes / GiB)))
  const cpuPerGiB = { service: cpu('service'), relay: cpu('relay'), sdk: cpu('sdk'), parts: cpu('parts') }
  return {
    mibPerSecond,
    cpuPerGiB,
    serviceUserPerGiB: median(row.samples.service.map((s) => (s.cpuUser ?? Number.NaN) / (row.bytes / GiB))),
    busy: byVia((via) => median(row.samples[via].map((s) => s.busy ?? Number.NaN))),
    vsRelay: mibPerSecond.service / mibPerSecond.relay,
    vsDirect: mibPerSecond.service / mibPerSecond.direct,
    cpuVsRelay: cpuPerGiB.service / cpuPerGiB.relay,
    sdkVsRelay: mibPerSecond.sdk / mibPerSecond.relay,
    sdkCpuVsRelay: cpuPerGiB.sdk / cpuPerGiB.relay,
    partsVsRelay: mibPerSecond.parts / mibPerSecond.relay,
    partsCpuVsRelay: cpuPerGiB.parts / cpuPerGiB.relay,
    ...(row.ceiling !== undefined ? { ceilingVsRelay: median(row.ceiling.mibPerSecond) / mibPerSecond.relay } : {})
  }
}

function summarizeSmall (row: SmallRow): NonNullable<SmallRow['summary']> {
  const results = (via: Via): Array<LoadResult & Sample> => row.results[via]
  const perSecond = byVia((via) => median(results(via).map((r) => r.perSecond)))
  const cpu = (via: Hop): number => median(results(via).map((r) => 1000 * (r.cpu ?? Number.NaN) / r.requests))
  return {
    perSecond,
    p50Ms: byVia((via) => median(results(via).map((r) => r.p50Ms))),
    p99Ms: byVia((via) => median(results(via).map((r) => r.p99Ms))),
    errors: Object.values(row.results).flat().reduce((sum, r) => sum + r.errors, 0),
    vsRelay: perSecond.service / perSecond.relay,
    vsDirect: perSecond.service / perSecond.direct,
    cpuMsPerRequest: { service: cpu('service'), relay: cpu('relay'), sdk: cpu('sdk'), parts: cpu('parts') },
    sdkVsRelay: perSecond.sdk / perSecond.relay
  }
}

function summarizeDify (row: DifyRow): NonNullable<DifyRow['summary']> {
  const pick = <T>(f: (via: 'service' | 'relay') => T): Record<'service' | 'relay', T> => ({ service: f('service'), relay: f('relay') })
  const perSecond = pick((via) => median(row.results[via].map((r) => r.perSecond)))
  return {
    perSecond,
    mibPerSecond: pick((via) => perSecond[via] * row.size / MiB),
    p50Ms: pick((via) => median(row.results[via].map((r) => r.p50Ms))),
    p99Ms: pick((via) => median(row.results[via].map((r) => r.p99Ms))),
    cpuMsPerRequest: pick((via) => median(row.results[via].map((r) => 1000 * (r.cpu ?? Number.NaN) / r.requests))),
    errors: [...row.results.service, ...row.results.relay].reduce((sum, r) => sum + r.errors, 0),
    vsRelay: perSecond.service / perSecond.relay
  }
}

/** fill in the summaries and check every target of the issue */
export function evaluate (report: Report): Target[] {
  const targets: Target[] = []
  const meets = (value: number, comparison: Target['comparison'], limit: number): boolean => comparison === '>=' ? value >= limit : value <= limit
  const target = (name: string, measured: number, comparison: Target['comparison'], limit: number, unit: Target['unit'], floor?: number, floorBy = 'SDK hop'): void => {
    const withFloor = floor !== undefined && Number.isFinite(floor) ? { floor, floorPass: meets(floor, comparison, limit), floorBy } : {}
    targets.push({ name, measured, comparison, limit, unit, pass: meets(measured, comparison, limit), ...withFloor })
  }
  for (const row of report.throughput) {
    const s = row.summary = summarizeThroughput(row)
    if (row.name.startsWith('upload')) {
      // a body of unknown length must go in parts: the relay in parts is
      // the floor (else S3's own pace for parts, when below the SDK hop)
      // issue 17: single-file form-data ≥ 0.9× at ≤ 1.3× CPU, a length ≥ 0.95×, chunked ≥ 0.85×
      const form = row.name.includes('multipart/form-data')
      const speed = form ? 0.9 : row.name.includes('Content-Length') ? 0.95 : 0.85
      const cpuLimit = form ? 1.3 : 1.5
      if (Number.isFinite(s.partsVsRelay)) {
        target(`${row.name}: throughput vs relay`, s.vsRelay, '>=', speed, '×', s.partsVsRelay, 'relay in parts')
        target(`${row.name}: CPU per GiB vs relay`, s.cpuVsRelay, '<=', cpuLimit, '×', s.partsCpuVsRelay, 'relay in parts')
      } else {
        const partsBound = s.ceilingVsRelay !== undefined && s.ceilingVsRelay < s.sdkVsRelay
        target(`${row.name}: throughput vs relay`, s.vsRelay, '>=', speed, '×', partsBound ? s.ceilingVsRelay : s.sdkVsRelay, partsBound ? 'S3 multipart alone' : 'SDK hop')
        target(`${row.name}: CPU per GiB vs relay`, s.cpuVsRelay, '<=', cpuLimit, '×', s.sdkCpuVsRelay)
      }
    } else if (row.name.startsWith('download')) {
      target(`${row.name}: throughput vs relay`, s.vsRelay, '>=', 0.95, '×', s.sdkVsRelay)
      target(`${row.name}: CPU per GiB vs relay`, s.cpuVsRelay, '<=', 1.2, '×', s.sdkCpuVsRelay)
    } else if (row.name.startsWith('base64')) {
      target(`${row.name}: throughput vs direct GetObject + encode`, s.vsDirect, '>=', 0.8, '×', s.mibPerSecond.sdk / s.mibPerSecond.direct)
    }
    if (row.peakRss !== undefined) target(`${row.name}: service peak RSS`, row.peakRss / MiB, '<=', 128, 'MiB')
  }
  for (const { row } of report.sweep ?? []) row.summary = summarizeThroughput(row)
  for (const row of report.small) {
    const s = row.summary = summarizeSmall(row)
    target(`${row.name}: requests/s vs relay`, s.vsRelay, '>=', 0.7, '×', s.sdkVsRelay)
  }
  for (const row of report.memory) {
    // issue 17: base64 uploads, 8 × 24 MiB ≤ 160 MiB, one 32 MiB ≤ 16 MiB over idle
    if (row.mode === 'base64' && row.count === 1) target(`${row.name}: service RSS over idle`, (row.peakRss - row.idleRss) / MiB, '<=', 16, 'MiB')
    else target(`${row.name}: service peak RSS`, row.peakRss / MiB, '<=', row.mode === 'base64' ? 160 : row.count > 1 ? 256 : 128, 'MiB')
  }
  for (const row of report.dify ?? []) {
    const s = row.summary = summarizeDify(row)
    target(`${row.name}: errors`, s.errors, '<=', 0, 'requests')
  }
  for (const connections of new Set((report.dify ?? []).map((r) => r.connections))) {
    const peak = report.dify?.find((r) => r.connections === connections)?.peakRss
    if (peak !== undefined && connections >= 64) target(`Dify: ${connections} at once: service peak RSS`, peak / MiB, '<=', 256, 'MiB')
  }
  for (const mode of new Set(report.memory.filter((r) => r.count === 1 && r.mode !== 'base64').map((r) => r.mode))) {
    const rows = report.memory.filter((r) => r.count === 1 && r.mode === mode).sort((a, b) => a.size - b.size)
    const [smallest, largest] = [rows[0], rows.at(-1)]
    if (smallest === undefined || largest === undefined || smallest === largest) continue
    target(`peak RSS flat from ${smallest.size / MiB} MiB to ${largest.size / MiB} MiB (${smallest.name.split(', ')[1] ?? mode})`, (largest.peakRss - smallest.peakRss) / MiB, '<=', 16, 'MiB')
  }
  return targets
}

const f = (n: number | undefined, digits = 0): string => n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits)
const mib = (bytes: number | undefined): string => bytes === undefined ? '–' : f(bytes / MiB)

function table (header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((h, i) => i === 0 ? '---' : '---:').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`)
  ].join('\n')
}

export function renderReport (report: Report): string {
  const out: string[] = []
  out.push(`${report.command} — ${report.date.slice(0, 10)}, ${report.machine.cores} × ${report.machine.cpu}, ${report.machine.memoryGiB} GiB, Linux ${report.machine.kernel}, Node ${report.machine.node}`)
  for (const failure of report.failures ?? []) out.push(`FAILED: ${failure.case}: ${failure.error}`)
  out.push(`S3: ${report.backend}. Medians of ${String(report.settings.rounds)} alternated rounds after one untimed warm-up each way; relay = bare node:http pipe to presigned URLs; SDK hop = the same pipe through the AWS SDK (PutObject/GetObject), hashing uploads with SHA-256 and, for base64, encoding on the way; direct = the bench client straight to S3.`)
  out.push('')
  if (report.throughput.length > 0) {
    out.push(table(
      ['case', 'service MiB/s', 'relay MiB/s', 'SDK hop MiB/s', 'direct MiB/s', 'service ÷ relay', 'SDK hop ÷ relay', 'service ÷ direct', 'service CPU s/GiB (user)', 'relay CPU s/GiB', 'SDK hop CPU s/GiB', 'CPU ÷ relay: service / SDK hop', 'machine CPU busy %: service / relay / direct', 'service peak RSS MiB'],
      report.throughput.map((row) => {
        const s = row.summary!
        return [row.name, f(s.mibPerSecond.service), f(s.mibPerSecond.relay), f(s.mibPerSecond.sdk), f(s.mibPerSecond.direct), f(s.vsRelay, 2), f(s.sdkVsRelay, 2), f(s.vsDirect, 2), `${f(s.cpuPerGiB.service, 2)} (${f(s.serviceUserPerGiB, 2)})`, f(s.cpuPerGiB.relay, 2), f(s.cpuPerGiB.sdk, 2), `${f(s.cpuVsRelay, 2)} / ${f(s.sdkCpuVsRelay, 2)}`, `${f(100 * s.busy.service)} / ${f(100 * s.busy.relay)} / ${f(100 * s.busy.direct)}`, mib(row.peakRss)]
      })))
    out.push('')
  }
  if (report.small.length > 0) {
    out.push(table(
      ['case', 'service req/s', 'relay req/s', 'SDK hop req/s', 'direct req/s', 'service ÷ relay', 'SDK hop ÷ relay', 'service ÷ direct', 'p50 / p99 ms service', 'relay', 'SDK hop', 'direct', 'CPU ms/req service / relay / SDK hop', 'errors', 'service peak RSS MiB'],
      report.small.map((row) => {
        const s = row.summary!
        const lat = (via: Via): string => `${f(s.p50Ms[via], 1)} / ${f(s.p99Ms[via], 1)}`
        return [row.name, f(s.perSecond.service), f(s.perSecond.relay), f(s.perSecond.sdk), f(s.perSecond.direct), f(s.vsRelay, 2), f(s.sdkVsRelay, 2), f(s.vsDirect, 2), lat('service'), lat('relay'), lat('sdk'), lat('direct'), `${f(s.cpuMsPerRequest.service, 2)} / ${f(s.cpuMsPerRequest.relay, 2)} / ${f(s.cpuMsPerRequest.sdk, 2)}`, String(s.errors), mib(row.peakRss)]
      })))
    out.push('')
  }
  const ceilings = report.throughput.filter((row) => row.ceiling !== undefined)
  if (ceilings.length > 0) {
    out.push(table(['upload of unknown length (relay in parts: hashing and cutting the body into parts; S3 multipart alone: the same bytes as parts from memory, straight to S3)', 'part size × parts at once', 'relay in parts MiB/s', 'S3 multipart alone MiB/s', 'relay in parts ÷ relay', 'S3 multipart alone ÷ relay', 'service ÷ relay', 'relay in parts CPU s/GiB', 'CPU ÷ relay: service / relay in parts', 'machine CPU busy %: service / relay in parts / S3 multipart alone'],
      ceilings.map((row) => {
        const s = row.summary!
        return [row.name, `${row.ceiling!.partMiB} MiB × ${row.ceiling!.concurrency}`, f(s.mibPerSecond.parts), f(median(row.ceiling!.mibPerSecond)), f(s.partsVsRelay, 2), f(s.ceilingVsRelay, 2), f(s.vsRelay, 2), f(s.cpuPerGiB.parts, 2), `${f(s.cpuVsRelay, 2)} / ${f(s.partsCpuVsRelay, 2)}`, `${f(100 * s.busy.service)} / ${f(100 * s.busy.parts)} / ${f(100 * median(row.ceiling!.busy ?? []))}`]
      })))
    out.push('')
  }
  if (report.memory.length > 0) {
    out.push(table(['memory case (fresh service each)', 'idle RSS MiB', 'peak RSS MiB', 'seconds'],
      report.memory.map((row) => [row.name, mib(row.idleRss), mib(row.peakRss), f(row.seconds, 1)])))
    out.push('')
  }
  if (report.dify !== undefined && report.dify.length > 0) {
    out.push(table(['Dify-shaped load (each connection one request after another)', 'service req/s', 'relay req/s', 'service ÷ relay', 'service MiB/s', 'relay MiB/s', 'p50 / p99 ms service', 'relay', 'CPU ms/req service / relay', 'errors', 'service peak RSS MiB'],
      report.dify.map((row) => {
        const s = row.summary!
        return [row.name, f(s.perSecond.service, 1), f(s.perSecond.relay, 1), f(s.vsRelay, 2), f(s.mibPerSecond.service), f(s.mibPerSecond.relay), `${f(s.p50Ms.service)} / ${f(s.p99Ms.service)}`, `${f(s.p50Ms.relay)} / ${f(s.p99Ms.relay)}`, `${f(s.cpuMsPerRequest.service, 1)} / ${f(s.cpuMsPerRequest.relay, 1)}`, String(s.errors), mib(row.peakRss)]
      })))
    out.push('')
  }
  if (report.sweep !== undefined && report.sweep.length > 0) {
    out.push(table(['chunked upload, part size × parts in flight', 'part buffers per upload MiB', 'service MiB/s', 'relay MiB/s', 'service ÷ relay', 'relay in parts ÷ relay', 'S3 multipart alone ÷ relay', 'service CPU s/GiB', 'service peak RSS MiB'],
      report.sweep.map(({ partMiB, concurrency, bufferMiB, row }) => {
        const s = row.summary!
        return [`${partMiB} MiB × ${concurrency}`, f(bufferMiB), f(s.mibPerSecond.service), f(s.mibPerSecond.relay), f(s.vsRelay, 2), f(s.partsVsRelay, 2), f(s.ceilingVsRelay, 2), f(s.cpuPerGiB.service, 2), mib(row.peakRss)]
      })))
    out.push('')
  }
  const suffix = (unit: Target['unit']): string => unit === '×' ? '×' : ` ${unit}`
  const value = (n: number, unit: Target['unit']): string => `${f(n, unit === '×' ? 2 : 0)}${suffix(unit)}`
  out.push(table(['target', 'measured', 'limit', 'floor', ''],
    report.targets.map((t) => [t.name, value(t.measured, t.unit), `${t.comparison} ${t.limit}${suffix(t.unit)}`, t.floor === undefined ? '' : `${value(t.floor, t.unit)} (${t.floorBy ?? 'SDK hop'})`, verdict(t)])))
  return out.join('\n')
}

/** met; missed; or missed where the floor misses too (then no such hop meets it on this machine) */
export function verdict (t: Target): string {
  if (t.pass) return 'met'
  if (t.floorPass !== false) return '**missed**'
  return t.floorBy === undefined || t.floorBy === 'SDK hop' ? '**missed** (the SDK hop misses too)' : `**missed** (${t.floorBy} misses too)`
}

export function printReport (report: Report): void {
  console.log('\n' + renderReport(report) + '\n')
}

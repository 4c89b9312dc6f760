// The bench's arithmetic: medians, ratios and the targets it reports.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { evaluate, median, renderReport, verdict as verdictText, type Report, type ThroughputRow } from '../../bench/report.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

function row (name: string, seconds: { service: number[], relay: number[], sdk: number[], direct: number[], parts?: number[] }, cpu: { service: number, relay: number, sdk: number, parts?: number }): ThroughputRow {
  return {
    name,
    bytes: GiB,
    samples: {
      service: seconds.service.map((s) => ({ seconds: s, cpu: cpu.service, cpuUser: cpu.service / 2, cpuSystem: cpu.service / 2 })),
      relay: seconds.relay.map((s) => ({ seconds: s, cpu: cpu.relay })),
      sdk: seconds.sdk.map((s) => ({ seconds: s, cpu: cpu.sdk })),
      direct: seconds.direct.map((s) => ({ seconds: s, cpu: undefined })),
      parts: (seconds.parts ?? []).map((s) => ({ seconds: s, cpu: cpu.parts }))
    },
    peakRss: 100 * MiB
  }
}

function report (throughput: ThroughputRow[]): Report {
  return {
    date: '2026-11-22T00:00:00.000Z',
    seconds: 1,
    command: 'npm run bench',
    machine: { cpu: 'test', cores: 2, memoryGiB: 1, kernel: 'test', node: 'v20' },
    backend: 'test',
    settings: { rounds: 3 },
    throughput,
    small: [],
    memory: [
      { name: '64 MiB upload, chunked', size: 64 * MiB, count: 1, mode: 'chunked', idleRss: 90 * MiB, peakRss: 110 * MiB, seconds: 1 },
      { name: '1024 MiB upload, chunked', size: 1024 * MiB, count: 1, mode: 'chunked', idleRss: 90 * MiB, peakRss: 140 * MiB, seconds: 1 },
      { name: '8 × 256 MiB upload, chunked', size: 256 * MiB, count: 8, mode: 'chunked', idleRss: 90 * MiB, peakRss: 250 * MiB, seconds: 1 }
    ],
    targets: []
  }
}

describe('bench report', () => {
  it('takes medians of odd and even counts and ignores missing values', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.equal(median([Number.NaN, 5]), 5)
    assert.ok(Number.isNaN(median([])))
  })

  it('computes ratios from medians and holds each to its target', () => {
    // service 1 GiB in 4 s (256 MiB/s), relay in 4.4 s, direct in 3.2 s
    const upload = row('upload 1024 MiB, Content-Length', { service: [4, 3.9, 9], relay: [4.4, 4.4, 4.5], sdk: [4, 4, 4], direct: [3.2, 3.2, 3.2] }, { service: 1.5, relay: 1, sdk: 1.2 })
    // the SDK hop moves 1 GiB in 3.5 s: 0.86× the relay, so the service's 0.75× is its own miss
    const download = row('download 1024 MiB', { service: [4], relay: [3], sdk: [3.5], direct: [3] }, { service: 1.1, relay: 1, sdk: 1.3 })
    const chunked = row('upload 1024 MiB, chunked', { service: [8], relay: [4], sdk: [4], direct: [3] }, { service: 3, relay: 1, sdk: 1.2 })
    // base64: the service at 0.75× direct, and the SDK hop encoding on the way at 0.7×
    const base64 = row('base64 download 32 MiB', { service: [4], relay: [3.5], sdk: [30 / 7], direct: [3] }, { service: 3, relay: 1, sdk: 1 })
    const r = report([upload, download, chunked, base64])
    r.targets = evaluate(r)
    const s = upload.summary!
    assert.equal(Math.round(s.mibPerSecond.service), 256)
    assert.ok(Math.abs(s.vsRelay - 4.4 / 4) < 1e-9)
    assert.equal(s.cpuVsRelay, 1.5)
    const verdict = Object.fromEntries(r.targets.map((t) => [t.name, t.pass]))
    assert.equal(verdict['upload 1024 MiB, Content-Length: throughput vs relay'], true)
    assert.equal(verdict['upload 1024 MiB, Content-Length: CPU per GiB vs relay'], true, '1.5× is within ≤ 1.5×')
    assert.equal(verdict['download 1024 MiB: throughput vs relay'], false, '0.75× misses ≥ 0.95×')
    assert.equal(verdict['download 1024 MiB: CPU per GiB vs relay'], true)
    assert.equal(verdict['1024 MiB upload, chunked: service peak RSS'], false, '140 MiB misses ≤ 128 MiB')
    assert.equal(verdict['8 × 256 MiB upload, chunked: service peak RSS'], true, '250 MiB is within ≤ 256 MiB for 8 concurrent')
    assert.equal(verdict['peak RSS flat from 64 MiB to 1024 MiB (chunked)'], false, 'grew 30 MiB')
    const byName = Object.fromEntries(r.targets.map((t) => [t.name, t]))
    const downloadCpu = byName['download 1024 MiB: CPU per GiB vs relay']!
    assert.equal(downloadCpu.floor, 1.3)
    assert.equal(downloadCpu.floorPass, false, 'the SDK hop at 1.3× misses ≤ 1.2×')
    assert.equal(verdictText(byName['download 1024 MiB: throughput vs relay']!), '**missed** (the SDK hop misses too)', 'the SDK hop at 0.86× misses ≥ 0.95× as well')
    assert.equal(verdictText(byName['upload 1024 MiB, chunked: throughput vs relay']!), '**missed**', 'the SDK hop keeps up with the relay: the miss is the service\'s own')
    assert.equal(verdictText(byName['upload 1024 MiB, Content-Length: throughput vs relay']!), 'met')
    const b64 = byName['base64 download 32 MiB: throughput vs direct GetObject + encode']!
    assert.ok(Math.abs(b64.floor! - 0.7) < 1e-9)
    assert.equal(verdictText(b64), '**missed** (the SDK hop misses too)')
    const text = renderReport(r)
    assert.match(text, /\| download 1024 MiB \| 256 \| 341 \| 293 \| 341 \| 0\.75 \| 0\.86 \|/)
    assert.match(text, /\*\*missed\*\*/)
  })

  it("holds an upload of unknown length to S3's multipart ceiling when that is below the SDK hop", () => {
    // relay 1 GiB in 4 s (256 MiB/s); S3 alone takes the parts at 192-208 MiB/s (0.78×), the SDK hop keeps up with the relay
    const chunked = row('upload 1024 MiB, chunked', { service: [8], relay: [4], sdk: [4], direct: [3] }, { service: 3, relay: 1, sdk: 1.2 })
    chunked.ceiling = { partMiB: 5, concurrency: 3, mibPerSecond: [192, 200, 208] }
    // here S3 alone is faster than the SDK hop: the SDK hop stays the floor
    const form = row('upload 1024 MiB, multipart/form-data', { service: [8], relay: [4], sdk: [5], direct: [3] }, { service: 3, relay: 1, sdk: 1.2 })
    form.ceiling = { partMiB: 5, concurrency: 3, mibPerSecond: [250] }
    const r = report([chunked, form])
    r.targets = evaluate(r)
    assert.equal(chunked.summary!.ceilingVsRelay, 200 / 256)
    const byName = Object.fromEntries(r.targets.map((t) => [t.name, t]))
    const bound = byName['upload 1024 MiB, chunked: throughput vs relay']!
    assert.equal(bound.floor, 200 / 256)
    assert.equal(bound.floorBy, 'S3 multipart alone')
    assert.equal(verdictText(bound), '**missed** (S3 multipart alone misses too)')
    const sdkBound = byName['upload 1024 MiB, multipart/form-data: throughput vs relay']!
    assert.equal(sdkBound.floor, 0.8)
    assert.equal(sdkBound.floorBy, 'SDK hop')
    assert.equal(byName['upload 1024 MiB, chunked: CPU per GiB vs relay']!.floorBy, 'SDK hop', 'CPU keeps the SDK hop as its floor')
    const text = renderReport(r)
    // no relay in parts in this run: its columns are empty
    assert.match(text, /\| upload 1024 MiB, chunked \| 5 MiB × 3 \| – \| 200 \| – \| 0\.78 \| 0\.50 \|/)
    assert.match(text, /0\.78× \(S3 multipart alone\)/)
  })

  it('holds an upload of unknown length to the relay in parts, for throughput and CPU, when it ran', () => {
    // relay 1 GiB in 4 s (256 MiB/s, 1 s of CPU); the relay in parts in 5 s (0.8×) with 1.6 s of CPU (1.6×);
    // the service in 6 s (0.67×) with 1.8 s (1.8×); S3 alone takes the parts at 0.9×
    const chunked = row('upload 1024 MiB, chunked', { service: [6], relay: [4], sdk: [4], direct: [3], parts: [5, 4.9, 5.1] }, { service: 1.8, relay: 1, sdk: 1.2, parts: 1.6 })
    chunked.ceiling = { partMiB: 5, concurrency: 3, mibPerSecond: [230.4] }
    const r = report([chunked])
    r.targets = evaluate(r)
    const s = chunked.summary!
    assert.equal(s.partsVsRelay, 0.8)
    assert.ok(Math.abs(s.partsCpuVsRelay - 1.6) < 1e-9)
    const byName = Object.fromEntries(r.targets.map((t) => [t.name, t]))
    const speed = byName['upload 1024 MiB, chunked: throughput vs relay']!
    assert.equal(speed.floor, 0.8)
    assert.equal(speed.floorBy, 'relay in parts')
    assert.equal(verdictText(speed), '**missed** (relay in parts misses too)')
    const cpu = byName['upload 1024 MiB, chunked: CPU per GiB vs relay']!
    assert.equal(cpu.floorBy, 'relay in parts')
    assert.equal(verdictText(cpu), '**missed** (relay in parts misses too)')
    const text = renderReport(r)
    assert.match(text, /\| upload 1024 MiB, chunked \| 5 MiB × 3 \| 205 \| 230 \| 0\.80 \| 0\.90 \| 0\.67 \| 1\.60 \| 1\.80 \/ 1\.60 \|/)
  })
})

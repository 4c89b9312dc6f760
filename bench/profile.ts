// Summarise V8 .cpuprofile files (from BENCH_SERVICE_NODE_ARGS='--cpu-prof
// --cpu-prof-dir=DIR'): self time by function and by package, top first.
//   node --import tsx bench/profile.ts DIR [top]
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const [dir, topArg] = process.argv.slice(2)
if (dir === undefined) throw new Error('usage: bench/profile.ts DIR [top]')
const top = Number(topArg ?? 25)

for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => { self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)) })
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const where = url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '')
    const name = `${functionName === '' ? '(anonymous)' : functionName} ${where === '' ? '' : `${where}:${lineNumber + 1}`}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    const pkg = url === '' ? functionName : url.startsWith('node:') ? 'node core' : /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? 'project'
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
  }
  const show = (title: string, map: Map<string, number>): void => {
    console.log(`\n${title}`)
    for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(6)} s  ${name}`)
  }
  console.log(`== ${file}: ${(total / 1e6).toFixed(2)} s sampled`)
  show('by package', byPackage)
  show('by function (self time)', byFunction)
}

// Checks of deploy/kubernetes/*.yaml without a cluster: each object against
// the Kubernetes API's schema (the kubernetes-models package carries them, so
// nothing is fetched), then our rules for a gateway that rolls without losing
// a request: probes on /healthz and /readyz, a preStop sleep and a grace
// period above SHUTDOWN_TIMEOUT_MS, non-root with a read-only root filesystem,
// memory requests and limits, a pinned image, and selectors that match.
import { parseAllDocuments } from 'yaml'

type Json = Record<string, any>

/** `apps/v1` + `Deployment` → `kubernetes-models/apps/v1/Deployment` (the core group is just `v1`) */
async function model (apiVersion: string, kind: string): Promise<(new (data: Json) => { validate: () => void }) | undefined> {
  if (!/^([a-z0-9.-]+\/)?v\d+(alpha\d+|beta\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z]+$/.test(kind)) return undefined
  try {
    const mod = await import(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, unknown>
    return mod[kind] as (new (data: Json) => { validate: () => void }) | undefined
  } catch {
    return undefined
  }
}

const seconds = (duration: unknown): number => typeof duration === 'number' ? duration : 0

/** Problems of a set of manifests (file name → text); [] when all is well. */
export async function checkKubernetes (files: Record<string, string>): Promise<string[]> {
  const problems: string[] = []
  const objects: Array<{ file: string, object: Json }> = []
  for (const [file, text] of Object.entries(files)) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) {
        problems.push(`${file}: not YAML: ${doc.errors[0]?.message ?? ''}`)
        continue
      }
      const object = doc.toJSON() as Json | null
      if (object === null) continue
      const Model = await model(String(object.apiVersion), String(object.kind))
      if (Model === undefined) {
        problems.push(`${file}: ${String(object.apiVersion)} ${String(object.kind)} is not a Kubernetes API object`)
        continue
      }
      try {
        new Model(object).validate()
      } catch (err) {
        problems.push(`${file}: ${String(object.kind)} ${String(object.metadata?.name)}: schema: ${(err as Error).message}`)
        continue
      }
      objects.push({ file, object })
    }
  }
  const of = (kind: string): Array<{ file: string, object: Json }> => objects.filter((o) => o.object.kind === kind)
  const config: Json = Object.assign({}, ...of('ConfigMap').map((c) => c.object.data ?? {}))
  const deployments = of('Deployment')
  if (deployments.length !== 1) problems.push(`expected one Deployment, found ${deployments.length}`)
  for (const { file, object } of deployments) {
    const where = `${file}: Deployment ${String(object.metadata?.name)}`
    const pod = object.spec?.template?.spec ?? {}
    const labels = object.spec?.template?.metadata?.labels ?? {}
    const container = (pod.containers ?? [])[0] ?? {}
    const env: Json = Object.fromEntries((container.env ?? []).map((e: Json) => [e.name, e.value]))
    if ((object.spec?.replicas ?? 1) < 2) problems.push(`${where}: run at least 2 replicas`)
    if (container.readinessProbe?.httpGet?.path !== '/readyz') problems.push(`${where}: the readiness probe must GET /readyz`)
    if (container.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${where}: the liveness probe must GET /healthz`)
    const preStop = container.lifecycle?.preStop
    const preStopSeconds = seconds(preStop?.sleep?.seconds) || (Array.isArray(preStop?.exec?.command) && preStop.exec.command[0] === 'sleep' ? Number(preStop.exec.command[1]) : 0)
    if (!(preStopSeconds > 0)) problems.push(`${where}: a preStop sleep lets endpoints and proxies stop routing before SIGTERM`)
    const shutdownMs = Number(env.SHUTDOWN_TIMEOUT_MS ?? config.SHUTDOWN_TIMEOUT_MS ?? 30_000)
    const grace = seconds(pod.terminationGracePeriodSeconds ?? 30)
    if (grace * 1000 <= shutdownMs + preStopSeconds * 1000) problems.push(`${where}: terminationGracePeriodSeconds (${grace}) must exceed the preStop sleep (${preStopSeconds} s) plus SHUTDOWN_TIMEOUT_MS (${shutdownMs / 1000} s)`)
    const security = { ...pod.securityContext, ...container.securityContext }
    if (security.runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot must be true`)
    if (container.securityContext?.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`)
    if (container.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`)
    if (container.resources?.requests?.memory === undefined || container.resources?.limits?.memory === undefined) problems.push(`${where}: set memory requests and limits`)
    const image = String(container.image ?? '')
    const tag = /:([^/:@]+)$/.exec(image)?.[1]
    if (!image.includes('@') && (tag === undefined || tag === 'latest')) problems.push(`${where}: pin the image to a tag or digest, never latest`)
    for (const { file: f, object: o } of [...of('Service'), ...of('PodDisruptionBudget')]) {
      const selector: Json = o.kind === 'Service' ? o.spec?.selector ?? {} : o.spec?.selector?.matchLabels ?? {}
      if (Object.keys(selector).length === 0 || !Object.entries(selector).every(([k, v]) => labels[k] === v)) problems.push(`${f}: ${String(o.kind)} ${String(o.metadata?.name)} selects no pod of the Deployment`)
    }
    for (const { file: f, object: o } of of('HorizontalPodAutoscaler')) {
      const target = o.spec?.scaleTargetRef ?? {}
      if (target.kind !== 'Deployment' || target.name !== object.metadata?.name) problems.push(`${f}: the HorizontalPodAutoscaler must scale Deployment ${String(object.metadata?.name)}`)
      if ((o.spec?.minReplicas ?? 1) < 2) problems.push(`${f}: minReplicas below 2 leaves no replica during a restart`)
    }
  }
  if (of('Service').length === 0) problems.push('no Service')
  if (of('PodDisruptionBudget').length === 0) problems.push('no PodDisruptionBudget')
  if (of('HorizontalPodAutoscaler').length === 0) problems.push('no HorizontalPodAutoscaler')
  for (const { file } of of('Secret')) if (!file.endsWith('.example.yaml')) problems.push(`${file}: a Secret belongs in a *.example.yaml template, never filled in`)
  return problems
}

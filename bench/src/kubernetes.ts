import { performance } from "node:perf_hooks"
import { createFunctionScaler } from "@scale-from-zero/core"
import { createKubernetesServiceQuery } from "@scale-from-zero/kubernetes"
import { startKubeApiSimulator } from "@scale-from-zero/test-kit/kube-api-simulator"
import {
  freshNamespace,
  kubeApiServerProblem,
  loadKubeConfig,
  startKubeApiServer,
} from "@scale-from-zero/test-kit/kube-apiserver"
import { createWorkload, startTestController } from "@scale-from-zero/test-kit/kube-controller"
import { percentile, round } from "./stats.js"

/** Pod ready this long after the scale-up, its endpoint this long after that (both backends). */
export const POD_READY_MS = 50
export const ENDPOINT_READY_MS = 100

export interface KubernetesColdStart {
  backend: string
  trials: number
  /** scaler.scale() of a Deployment at 0: scale-up, pod and endpoint start-up, watch push, release. */
  coldStartP50Ms: number
  coldStartP99Ms: number
  /** From the ready endpoint being written (the write sent) to the request's release. */
  releaseP50Ms: number
  releaseP99Ms: number
  releaseMaxMs: number
}

interface Trial {
  coldStartMs: number
  releaseMs: number
}

function summarize(backend: string, trials: Trial[]): KubernetesColdStart {
  const cold = trials.map((t) => t.coldStartMs)
  const release = trials.map((t) => t.releaseMs)
  return {
    backend,
    trials: trials.length,
    coldStartP50Ms: round(percentile(cold, 50)),
    coldStartP99Ms: round(percentile(cold, 99)),
    releaseP50Ms: round(percentile(release, 50)),
    releaseP99Ms: round(percentile(release, 99)),
    releaseMaxMs: round(Math.max(...release)),
  }
}

/** One cold start after another, each of its own Deployment; the watch is the only release path. */
async function runTrials(
  query: ReturnType<typeof createKubernetesServiceQuery>,
  namespace: string,
  count: number,
  addDeployment: (name: string) => Promise<void>,
  endpointReadyAt: (name: string) => number | undefined,
): Promise<Trial[]> {
  const scaler = createFunctionScaler({
    serviceQuery: query,
    functionPollInterval: 600_000,
    timeout: 30_000,
  })
  const trials: Trial[] = []
  try {
    for (let i = 0; i < count; i++) {
      const name = `cold-${i}`
      await addDeployment(name)
      const result = await scaler.scale(name, namespace)
      const released = performance.now()
      if (result.outcome !== "ready") throw new Error(`${name}: ${result.outcome}`)
      trials.push({
        coldStartMs: result.durationMs,
        releaseMs: released - (endpointReadyAt(name) ?? Number.NaN),
      })
    }
  } finally {
    scaler.close()
  }
  return trials
}

/** The same cold starts on the Kubernetes API simulator (its own controller loop). */
export async function measureOnSimulator(trials: number): Promise<KubernetesColdStart> {
  const readyAt = new Map<string, number>()
  const simulator = await startKubeApiSimulator({
    podReadyDelayMs: POD_READY_MS,
    endpointReadyDelayMs: ENDPOINT_READY_MS,
    onEndpointReady: (_namespace, service) => readyAt.set(service, performance.now()),
  })
  const query = createKubernetesServiceQuery({ kubeConfig: simulator.kubeConfig() })
  try {
    return summarize(
      "Kubernetes API simulator",
      await runTrials(
        query,
        "bench",
        trials,
        async (name) => simulator.addWorkload("Deployment", "bench", name, { replicas: 0 }),
        (name) => readyAt.get(name),
      ),
    )
  } finally {
    await query.close()
    await simulator.close()
  }
}

/**
 * The same cold starts on a real kube-apiserver (started here, stopped after), the test
 * controller writing status and EndpointSlices. Undefined, with the reason logged, where it
 * cannot run.
 */
export async function measureOnKubeApiServer(
  trials: number,
  log: (line: string) => void,
): Promise<KubernetesColdStart | undefined> {
  const problem = await kubeApiServerProblem()
  if (problem !== undefined) {
    log(`  skipped: ${problem}`)
    return undefined
  }
  const server = await startKubeApiServer()
  try {
    const admin = loadKubeConfig(server.kubeconfigPath)
    const namespace = await freshNamespace(admin, "bench")
    const controller = await startTestController({
      kubeConfig: admin,
      namespace,
      podReadyDelayMs: POD_READY_MS,
      endpointReadyDelayMs: ENDPOINT_READY_MS,
    })
    const query = createKubernetesServiceQuery({ kubeConfig: admin })
    try {
      return summarize(
        "kube-apiserver 1.26 (etcd), test controller",
        await runTrials(
          query,
          namespace,
          trials,
          (name) => createWorkload(admin, namespace, "Deployment", name, { replicas: 0 }),
          (name) =>
            controller.writes.find((w) => w.workload === name && w.what === "slice" && w.ready > 0)
              ?.sentAt,
        ),
      )
    } finally {
      await query.close()
      await controller.close()
    }
  } finally {
    await server.stop()
  }
}

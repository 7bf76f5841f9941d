import { performance } from "node:perf_hooks"
import { createFunctionScaler, type ServiceQuery } from "@scale-from-zero/core"
import { blockingPollPolicy, upstreamPolicy, type WaitPolicy } from "./baselines.js"
import { createSimulatedBackend } from "./simulated-backend.js"
import { percentile, round } from "./stats.js"

const NAMESPACE = "bench"

export interface Contender {
  name: string
  push: boolean
  policy(backend: ServiceQuery): WaitPolicy
}

const ours = (push: boolean): Contender => ({
  name: push ? "scale-from-zero, push (watch)" : "scale-from-zero, polling every 100 ms",
  push,
  policy(backend) {
    const scaler = createFunctionScaler({ serviceQuery: backend, timeout: 60_000 })
    return async (name) => (await scaler.scale(name, NAMESPACE)).available
  },
})

export const CONTENDERS: Contender[] = [
  ours(true),
  ours(false),
  { name: "upstream policy (100 ms poll, 250 ms cache)", push: false, policy: upstreamPolicy },
  { name: "5 s blocking poll", push: false, policy: blockingPollPolicy },
]

export interface ReleaseLatency {
  contender: string
  trials: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/**
 * Release latency: from the instant a service turns ready to the instant its held request is
 * released. Each trial is its own service with a random start-up time, so poll phases vary.
 */
export async function measureReleaseLatency(
  contender: Contender,
  trials: number,
): Promise<ReleaseLatency> {
  const delays: Record<string, number> = {}
  for (let i = 0; i < trials; i++) delays[`svc-${i}`] = 300 + Math.random() * 500
  const backend = createSimulatedBackend(delays, { push: contender.push })
  const wait = contender.policy(backend)
  const latencies = await Promise.all(
    Object.keys(delays).map(async (name) => {
      await wait(name)
      const released = performance.now()
      return released - (backend.readyAt(name) ?? Number.NaN)
    }),
  )
  backend.close()
  return {
    contender: contender.name,
    trials,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(Math.max(...latencies)),
  }
}

export interface BackendLoad {
  contender: string
  held: number
  waitSeconds: number
  setReplicas: number
  getReplicasPerSecond: number
}

/** Backend calls while `held` requests, arriving over 500 ms, wait for one service to start. */
export async function measureBackendLoad(
  contender: Contender,
  held: number,
  readyAfterMs: number,
): Promise<BackendLoad> {
  const backend = createSimulatedBackend({ svc: readyAfterMs }, { push: contender.push })
  const wait = contender.policy(backend)
  const start = performance.now()
  const arrivals: Promise<boolean>[] = []
  for (let i = 0; i < held; i++) {
    const delay = held === 1 ? 0 : (500 * i) / held
    arrivals.push(new Promise((resolve) => setTimeout(() => resolve(wait("svc")), delay)))
  }
  await Promise.all(arrivals)
  const waitSeconds = ((backend.readyAt("svc") ?? performance.now()) - start) / 1000
  backend.close()
  return {
    contender: contender.name,
    held,
    waitSeconds: round(waitSeconds),
    setReplicas: backend.calls.setReplicas,
    getReplicasPerSecond: round(backend.calls.getReplicas / waitSeconds, 1),
  }
}

/** One service's cold starts again and again: the poll schedule learns from the earlier ones. */
export interface RepeatContender {
  name: string
  make(backend: ServiceQuery): {
    wait(name: string): Promise<boolean>
    /** Back to zero, and nothing cached says otherwise. */
    scaleDown(name: string): Promise<void>
  }
}

export const REPEAT_CONTENDERS: RepeatContender[] = [
  {
    name: "scale-from-zero, polling (100 ms interval)",
    make(backend) {
      const scaler = createFunctionScaler({ serviceQuery: backend, timeout: 60_000 })
      return {
        wait: async (name) => (await scaler.scale(name, NAMESPACE)).available,
        scaleDown: async (name) => {
          await scaler.scaleDown(name, NAMESPACE)
        },
      }
    },
  },
  {
    name: "upstream policy (100 ms poll, 250 ms cache)",
    make(backend) {
      return {
        wait: upstreamPolicy(backend),
        scaleDown: async (name) => {
          await backend.setReplicas(name, NAMESPACE, 0)
          await new Promise((resolve) => setTimeout(resolve, 300)) // past its cache
        },
      }
    },
  },
]

export interface RepeatedColdStarts {
  contender: string
  services: number
  startsEach: number
  jitter: number
  /** Figures over every start but each service's first (which has no record to learn from). */
  p50Ms: number
  p99Ms: number
  maxMs: number
  readsPerColdStart: number
  readsPerSecond: number
  firstStartP50Ms: number
}

/**
 * Added latency and backend reads over repeated cold starts of the same services, one held
 * request each: each service starts in its own time (300–3000 ms, drawn once), each start
 * within ±`jitter` of it (0.1: ±10 %). Reads are the getReplicas calls for the service while its request waits.
 */
export async function measureRepeatedColdStarts(
  contender: RepeatContender,
  services: number,
  startsEach: number,
  jitter: number,
): Promise<RepeatedColdStarts> {
  const delays: Record<string, () => number> = {}
  for (let i = 0; i < services; i++) {
    const typical = 300 + Math.random() * 2700
    delays[`svc-${i}`] = () => typical * (1 - jitter + Math.random() * 2 * jitter)
  }
  const backend = createSimulatedBackend(delays, { push: false })
  const waiting = new Set<string>()
  const reads = new Map<string, number>()
  const counted: ServiceQuery = {
    getReplicas(name, namespace, options) {
      if (waiting.has(name)) reads.set(name, (reads.get(name) ?? 0) + 1)
      return backend.getReplicas(name, namespace, options)
    },
    setReplicas: (name, namespace, count, options) =>
      backend.setReplicas(name, namespace, count, options),
  }
  const { wait, scaleDown } = contender.make(counted)
  const first: number[] = []
  const later: number[] = []
  let waitMs = 0
  let laterReads = 0
  await Promise.all(
    Object.keys(delays).map(async (name) => {
      for (let start = 0; start < startsEach; start++) {
        reads.set(name, 0)
        waiting.add(name)
        const began = performance.now()
        await wait(name)
        const released = performance.now()
        waiting.delete(name)
        const added = released - (backend.readyAt(name) ?? Number.NaN)
        if (start === 0) first.push(added)
        else {
          later.push(added)
          laterReads += reads.get(name) ?? 0
          waitMs += released - began
        }
        await scaleDown(name)
      }
    }),
  )
  backend.close()
  return {
    contender: contender.name,
    services,
    startsEach,
    jitter,
    p50Ms: round(percentile(later, 50)),
    p99Ms: round(percentile(later, 99)),
    maxMs: round(Math.max(...later)),
    readsPerColdStart: round(laterReads / later.length, 1),
    readsPerSecond: round(laterReads / (waitMs / 1000), 1),
    firstStartP50Ms: round(percentile(first, 50)),
  }
}

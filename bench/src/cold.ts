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

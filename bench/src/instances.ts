import { performance } from "node:perf_hooks"
import { createFunctionScaler } from "@scale-from-zero/core"
import { createRedisSharedActivity } from "@scale-from-zero/redis"
import { REDIS_URL, redisProblem, uniquePrefix } from "@scale-from-zero/test-kit/redis-server"
import { createSimulatedBackend } from "./simulated-backend.js"
import { round } from "./stats.js"

export interface InstancesColdStart {
  instances: number
  sharedWakes: boolean
  held: number
  waitSeconds: number
  setReplicas: number
  getReplicas: number
  getReplicasPerSecond: number
}

/**
 * Backend calls during one cold start with `instances` gateway instances in front of one
 * polling backend (every 100 ms), `held` requests arriving over 500 ms spread over them in
 * turn; with `sharedWakes`, each instance has its own connection to one redis-server.
 * Undefined when `sharedWakes` is asked for and no Redis answers.
 */
export async function measureInstancesColdStart(
  instances: number,
  sharedWakes: boolean,
  held: number,
  readyAfterMs: number,
): Promise<InstancesColdStart | undefined> {
  if (sharedWakes && (await redisProblem()) !== undefined) return undefined
  const backend = createSimulatedBackend({ svc: readyAfterMs }, { push: false })
  const prefix = uniquePrefix()
  const shared = sharedWakes
    ? Array.from({ length: instances }, () =>
        createRedisSharedActivity({ url: REDIS_URL, keyPrefix: prefix }),
      )
    : []
  const scalers = Array.from({ length: instances }, (_, i) =>
    createFunctionScaler({
      serviceQuery: backend,
      timeout: 60_000,
      ...(shared[i] && { sharedWakes: shared[i] }),
    }),
  )
  const start = performance.now()
  const arrivals: Promise<boolean>[] = []
  for (let i = 0; i < held; i++) {
    const scaler = scalers[i % instances]!
    const delay = (500 * i) / held
    arrivals.push(
      new Promise((resolve) =>
        setTimeout(async () => resolve((await scaler.scale("svc", "bench")).available), delay),
      ),
    )
  }
  const available = await Promise.all(arrivals)
  const waitSeconds = (performance.now() - start) / 1000
  for (const scaler of scalers) scaler.close()
  await Promise.all(shared.map((one) => one.close()))
  backend.close()
  if (available.includes(false)) throw new Error("a request was not released")
  return {
    instances,
    sharedWakes,
    held,
    waitSeconds: round(waitSeconds),
    setReplicas: backend.calls.setReplicas,
    getReplicas: backend.calls.getReplicas,
    getReplicasPerSecond: round(backend.calls.getReplicas / waitSeconds, 1),
  }
}

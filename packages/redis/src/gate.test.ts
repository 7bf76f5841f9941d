import {
  createGate,
  type Gate,
  type ScalingEvent,
  ZERO_DURATION_LABEL,
  ZERO_SCALE_LABEL,
} from "@scale-from-zero/core"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"
import { REDIS_URL, requireRedis, uniquePrefix } from "@scale-from-zero/test-kit/redis-server"
import { afterEach, describe, expect, it } from "vitest"
import { pass } from "../test/gate-request.js"
import { createRedisSharedActivity, type RedisSharedActivity } from "./index.js"

const NS = "openfaas-fn"
// Idle after 500 ms, checked every 10 ms: room for timers running late on a loaded machine.
const IDLE_AFTER_MS = 500
const skipReason = await requireRedis()

describe.skipIf(skipReason !== undefined)("two gates sharing activity in Redis", () => {
  const gates: Gate[] = []
  const activities: RedisSharedActivity[] = []
  let backend: MemoryServiceQuery | undefined

  afterEach(async () => {
    for (const gate of gates.splice(0)) gate.close()
    await Promise.all(activities.splice(0).map((activity) => activity.close()))
    backend?.close()
  })

  /** One gateway instance: its own gate and its own Redis connection, on the shared backend. */
  const gateway = (serviceQuery: MemoryServiceQuery, keyPrefix: string) => {
    const events: ScalingEvent[] = []
    const shared = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    activities.push(shared)
    const gate = createGate({
      serviceQuery,
      onEvent: (event) => events.push(event),
      scaleToZero: { checkIntervalMs: 10, shared },
    })
    gates.push(gate)
    return { gate, events, shared }
  }

  it("never scales down on B a service kept busy through A, and scales it down once when idle everywhere", async () => {
    backend = createMemoryServiceQuery({
      services: {
        svc: {
          replicas: 1,
          labels: { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: `${IDLE_AFTER_MS}ms` },
        },
      },
    })
    const keyPrefix = uniquePrefix()
    const a = gateway(backend, keyPrefix)
    const b = gateway(backend, keyPrefix)

    // B served one request long ago (as far as its idle check goes); then only A is used.
    b.gate.finished(await pass(b.gate))
    // Short requests through A, for longer than the idle time: B learns of them from Redis.
    const busyUntil = Date.now() + 2.5 * IDLE_AFTER_MS
    while (Date.now() < busyUntil) {
      a.gate.finished(await pass(a.gate))
      await sleep(50)
    }
    // Then one long request in flight on A (a download, say): activity while it lasts.
    const streaming = await pass(a.gate)
    await sleep(2 * IDLE_AFTER_MS)

    expect(backend.status("svc", NS)?.replicas).toBe(1)
    expect(backend.calls.setReplicas).toBe(0)
    expect([...a.events, ...b.events].filter((e) => e.type === "scale-down")).toEqual([])
    expect([...a.events, ...b.events].filter((e) => e.type === "error")).toEqual([])
    // A told Redis about the request in flight.
    expect(await b.shared.lastActive("svc", NS)).toBeGreaterThan(busyUntil)

    const finishedAt = Date.now()
    a.gate.finished(streaming)
    await until(() => backend?.status("svc", NS)?.replicas === 0, 10 * IDLE_AFTER_MS)
    expect(Date.now() - finishedAt).toBeGreaterThanOrEqual(IDLE_AFTER_MS)
    // Both gates have passed their idle checks by now: still one scale-down, by one of them.
    await sleep(IDLE_AFTER_MS)
    const scaleDowns = [...a.events, ...b.events].filter((e) => e.type === "scale-down")
    expect(scaleDowns).toHaveLength(1)
    expect(backend.calls.setReplicas).toBe(1)
    expect([...a.events, ...b.events].filter((e) => e.type === "error")).toEqual([])
  }, 20_000)
})

describe("a gate whose Redis is unreachable", () => {
  let gate: Gate | undefined
  let shared: RedisSharedActivity | undefined
  let backend: MemoryServiceQuery | undefined

  afterEach(async () => {
    gate?.close()
    await shared?.close()
    backend?.close()
  })

  it("scales nothing down, and reports errors naming the Redis address", async () => {
    backend = createMemoryServiceQuery({
      services: {
        svc: { replicas: 1, labels: { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: "50ms" } },
      },
    })
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    shared = createRedisSharedActivity({ url: "redis://127.0.0.1:1", commandTimeoutMs: 200 })
    const events: ScalingEvent[] = []
    gate = createGate({
      serviceQuery: backend,
      onEvent: (event) => events.push(event),
      scaleToZero: { checkIntervalMs: 10, shared },
    })
    gate.finished(await pass(gate))

    // Three idle checks that could not ask Redis (or a scale-down, which must not happen).
    const failedDecisions = () =>
      events.filter((e) => e.type === "error" && e.error.message.includes(": lastActive(")).length
    await until(() => failedDecisions() >= 3 || events.some((e) => e.type === "scale-down"), 5_000)
    expect(backend.status("svc", NS)?.replicas).toBe(1)
    expect(backend.calls.setReplicas).toBe(0)
    expect(events.filter((e) => e.type === "scale-down")).toEqual([])
    for (const event of events.filter((e) => e.type === "error")) {
      expect(event.type === "error" && event.error.message).toMatch(/^redis at 127\.0\.0\.1:1: /)
    }
  })
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function until(condition: () => boolean, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${boundMs} ms`)
    await sleep(10)
  }
}

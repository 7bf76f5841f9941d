import { createGate, type Gate, type ScalingEvent } from "@scale-from-zero/core"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"
import { REDIS_URL, requireRedis, uniquePrefix } from "@scale-from-zero/test-kit/redis-server"
import { afterEach, describe, expect, it } from "vitest"
import { pass } from "../test/gate-request.js"
import { createRedisSharedActivity, type RedisSharedActivity } from "./index.js"

const NS = "openfaas-fn"
const skipReason = await requireRedis()

describe.skipIf(skipReason !== undefined)("scale-out across gates sharing Redis", () => {
  const gates: Gate[] = []
  const shared: RedisSharedActivity[] = []
  let backend: MemoryServiceQuery | undefined

  afterEach(async () => {
    for (const gate of gates.splice(0)) gate.close()
    await Promise.all(shared.splice(0).map((one) => one.close()))
    backend?.close()
  })

  const gateway = (serviceQuery: MemoryServiceQuery, keyPrefix: string, label: string) => {
    const events: (ScalingEvent & { by: string })[] = []
    const redis = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    shared.push(redis)
    const gate = createGate({
      serviceQuery,
      onEvent: (event) => events.push({ ...event, by: label }),
      scaleOut: { targetConcurrency: 2, intervalMs: 50, scaleInAfterMs: 300, shared: redis },
    })
    gates.push(gate)
    return { gate, events }
  }

  it("sums the requests in flight on both, and one gate at a time steps the replicas", async () => {
    // Step: ceil(10 × 10 / 100) = 1 replica per interval.
    backend = createMemoryServiceQuery({ services: { svc: { replicas: 1, maxReplicas: 10 } } })
    const prefix = uniquePrefix()
    const a = gateway(backend, prefix, "a")
    const b = gateway(backend, prefix, "b")

    // 4 in flight on each: alone each would want 2 replicas, together they want 4.
    const inFlight = [
      ...(await Promise.all([1, 2, 3, 4].map(() => pass(a.gate)))).map((p) => [a.gate, p] as const),
      ...(await Promise.all([1, 2, 3, 4].map(() => pass(b.gate)))).map((p) => [b.gate, p] as const),
    ]
    await expect.poll(() => backend?.status("svc", NS)?.replicas, { timeout: 5_000 }).toBe(4)
    // A few more intervals: the sum holds at 4, nobody overshoots or fights.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(backend.status("svc", NS)?.replicas).toBe(4)
    const steps = [...a.events, ...b.events].filter((event) => event.type === "scale-out")
    expect(
      steps.map((event) => event.type === "scale-out" && [event.from, event.replicas]),
    ).toEqual([
      [1, 2],
      [2, 3],
      [3, 4],
    ])
    const concurrencies = steps.map((event) => event.type === "scale-out" && event.concurrency)
    // The first step may be decided before the second gate has published (4 alone asks for 2
    // as well); going past 2 needs the sum of both.
    expect(concurrencies.slice(1)).toEqual([8, 8])
    // One decider: the claim stays with the gate that took it while it lives.
    expect(new Set(steps.map((event) => event.by)).size).toBe(1)
    expect(backend.calls.setReplicas).toBe(3)

    for (const [gate, passed] of inFlight) gate.finished(passed)
    await expect.poll(() => backend?.status("svc", NS)?.replicas, { timeout: 5_000 }).toBe(1)
    const errors = [...a.events, ...b.events].filter((event) => event.type === "error")
    expect(errors).toEqual([])
  }, 20_000)

  it("counts an instance only while it publishes, and keeps the claim with its holder", async () => {
    const keyPrefix = uniquePrefix()
    const redis = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    const other = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    shared.push(redis, other)
    await redis.publishConcurrency("svc", NS, 3, 200)
    await other.publishConcurrency("svc", NS, 2, 5_000)
    expect(await other.totalConcurrency("svc", NS)).toBe(5)
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(await other.totalConcurrency("svc", NS)).toBe(2)
    // The claim is one instance's while it renews it.
    expect(await redis.claimScaleOut("svc", NS, 1_000)).toBe(true)
    expect(await other.claimScaleOut("svc", NS, 1_000)).toBe(false)
    expect(await redis.claimScaleOut("svc", NS, 1_000)).toBe(true)
    await expect(redis.publishConcurrency("svc", NS, -1, 100)).rejects.toThrow(RangeError)
  })
})

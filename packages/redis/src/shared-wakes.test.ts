import { createGate, type Gate, type GateRequest, type ScalingEvent } from "@scale-from-zero/core"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"
import { REDIS_URL, requireRedis, uniquePrefix } from "@scale-from-zero/test-kit/redis-server"
import { Redis } from "ioredis"
import { afterEach, describe, expect, it } from "vitest"
import { createRedisSharedActivity, encodeKeyPart, type RedisSharedActivity } from "./index.js"

const NS = "openfaas-fn"
const POLL_MS = 25
const STARTUP_MS = 500
const request: GateRequest = {
  method: "GET",
  path: "/function/svc",
  headers: new Headers({ accept: "application/json" }),
}

const skipReason = await requireRedis()

describe.skipIf(skipReason !== undefined)("wakes shared through Redis", () => {
  const gates: Gate[] = []
  const shared: RedisSharedActivity[] = []
  const backends: MemoryServiceQuery[] = []

  afterEach(async () => {
    for (const gate of gates.splice(0)) gate.close()
    await Promise.all(shared.splice(0).map((one) => one.close()))
    for (const backend of backends.splice(0)) backend.close()
  })

  /** One polling backend (no watch), as a faas-provider is: every status read is counted. */
  const backend = () => {
    const made = createMemoryServiceQuery({
      services: { svc: { startupDelayMs: STARTUP_MS } },
      watch: false,
    })
    backends.push(made)
    return made
  }

  /** One gateway instance: its own gate and its own Redis connections. */
  const gateway = (serviceQuery: MemoryServiceQuery, keyPrefix: string | undefined) => {
    const events: ScalingEvent[] = []
    let sharedWakes: RedisSharedActivity | undefined
    if (keyPrefix !== undefined) {
      sharedWakes = createRedisSharedActivity({ url: REDIS_URL, keyPrefix, wakeClaimTtlMs: 600 })
      shared.push(sharedWakes)
    }
    const gate = createGate({
      serviceQuery,
      functionPollInterval: POLL_MS,
      timeout: 10_000,
      onEvent: (event) => events.push(event),
      ...(sharedWakes && { sharedWakes }),
    })
    gates.push(gate)
    return { gate, events }
  }

  /** `count` cold requests spread over the gates in turn; resolves with when each passed. */
  const coldRequests = (instances: { gate: Gate }[], count: number) =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const { gate } = instances[i % instances.length]!
        const verdict = gate.admit(request)
        const answer =
          verdict.kind === "hold" ? await gate.wait(verdict, new AbortController().signal) : verdict
        expect(answer).toMatchObject({ kind: "pass" })
        return Date.now()
      }),
    )

  /** Reads per second the backend got from `start` until the last request passed. */
  const wake = async (instances: { gate: Gate }[], serviceQuery: MemoryServiceQuery) => {
    const start = Date.now()
    const passed = await coldRequests(instances, 300)
    const seconds = (Math.max(...passed) - start) / 1000
    return {
      reads: serviceQuery.calls.getReplicas,
      perSecond: serviceQuery.calls.getReplicas / seconds,
      setReplicas: serviceQuery.calls.setReplicas,
    }
  }

  it("3 gates, 300 cold requests spread over them: one scale-up, and one instance's reads per second", async () => {
    const alone = backend()
    const one = await wake([gateway(alone, undefined)], alone)

    const together = backend()
    const prefix = uniquePrefix()
    const instances = [1, 2, 3].map(() => gateway(together, prefix))
    const three = await wake(instances, together)

    // And what three instances cost without sharing, for the comparison.
    const apart = backend()
    const unshared = await wake(
      [1, 2, 3].map(() => gateway(apart, undefined)),
      apart,
    )

    expect(one.setReplicas).toBe(1)
    expect(three.setReplicas).toBe(1)
    // One leader polls; the others read once each, to learn the service is cold.
    expect(three.perSecond).toBeLessThanOrEqual(one.perSecond * 1.3)
    expect(three.reads).toBeLessThanOrEqual(one.reads + 2 + Math.ceil(one.reads * 0.3))
    expect(unshared.perSecond).toBeGreaterThan(one.perSecond * 2)
    for (const { events } of instances) {
      expect(events.filter((event) => event.type === "error")).toEqual([])
      expect(events.filter((event) => event.type === "ready")).toHaveLength(1)
    }
    console.info(
      `reads during a ${STARTUP_MS} ms cold start, polling every ${POLL_MS} ms: 1 gate ${one.reads} ` +
        `(${one.perSecond.toFixed(0)}/s); 3 gates sharing wakes ${three.reads} ` +
        `(${three.perSecond.toFixed(0)}/s); 3 gates apart ${unshared.reads} (${unshared.perSecond.toFixed(0)}/s)`,
    )
  }, 20_000)

  it("takes the wake over when the leader's claim expires without an answer", async () => {
    const serviceQuery = backend()
    const prefix = uniquePrefix()
    // What a leader that died mid-wake leaves behind: its claim, never renewed nor released.
    const raw = new Redis(REDIS_URL, { lazyConnect: true })
    const claimKey = `${prefix}wake:${encodeKeyPart(NS)}:${encodeKeyPart("svc")}`
    await raw.set(claimKey, "a-crashed-instance", "PX", 600)
    const claimedAt = Date.now()
    raw.disconnect()

    const instances = [1, 2].map(() => gateway(serviceQuery, prefix))
    const passed = await coldRequests(instances, 20)

    // Nobody asked the backend for replicas while the dead leader's claim stood.
    expect(Math.min(...passed) - claimedAt).toBeGreaterThanOrEqual(600)
    expect(serviceQuery.calls.setReplicas).toBe(1)
    const scaleUps = instances.flatMap(({ events }) => events.filter((e) => e.type === "scale-up"))
    expect(scaleUps).toHaveLength(1)
  }, 20_000)

  it("a follower's request that leaves ends its own wait only", async () => {
    const serviceQuery = backend()
    const prefix = uniquePrefix()
    const [a, b] = [1, 2].map(() => gateway(serviceQuery, prefix))
    const leading = coldRequests([a!], 5)
    // Give A the claim, then B follows with a request whose client leaves.
    await expect.poll(() => serviceQuery.calls.setReplicas).toBe(1)
    const verdict = b!.gate.admit(request)
    if (verdict.kind !== "hold") throw new Error(`expected a hold, got ${verdict.kind}`)
    const client = new AbortController()
    const left = b!.gate.wait(verdict, client.signal)
    client.abort()
    expect(await left).toMatchObject({ kind: "reply", status: 499 })
    await leading
    // B still learns of the ready service from A, without a wake of its own.
    expect(await coldRequests([b!], 3)).toHaveLength(3)
    expect(serviceQuery.calls.setReplicas).toBe(1)
  }, 20_000)
})

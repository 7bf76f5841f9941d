import { afterEach, describe, expect, it } from "vitest"
import { abortListeners, activeTimers, settle, until } from "../test/leak-check.js"
import { ScaleTimeoutError, ServiceNotFoundError } from "./errors.js"
import type { ScalingEvent } from "./events.js"
import { createFunctionScaler } from "./function-scaler.js"
import {
  createMemoryServiceQuery,
  type MemoryServiceQuery,
} from "./testing/memory-service-query.js"

const NS = "openfaas-fn"
let backends: MemoryServiceQuery[] = []
let timersBefore = 0

function backend(...args: Parameters<typeof createMemoryServiceQuery>) {
  const query = createMemoryServiceQuery(...args)
  backends.push(query)
  timersBefore = activeTimers()
  return query
}

afterEach(async () => {
  await settle(5)
  for (const query of backends) query.close()
  // Every wait, poll, timeout and watch the scaler started has been released.
  // Give the test runner's own short-lived timers a moment; a leaked wait or poll stays.
  await until(() => activeTimers() <= timersBefore, 300).catch(() => {})
  expect(activeTimers()).toBeLessThanOrEqual(timersBefore)
  for (const query of backends) expect(query.activeWatches).toBe(0)
  backends = []
})

describe("a ready service", () => {
  it("is available from the cache without a backend call", async () => {
    const query = backend({ services: { echo: { replicas: 1 } } })
    const scaler = createFunctionScaler({ serviceQuery: query, cacheExpiry: 60_000 })
    expect(await scaler.scale("echo", NS)).toMatchObject({ available: true, coldStart: false })
    expect(query.calls.getReplicas).toBe(1)
    expect(await scaler.scale("echo", NS)).toMatchObject({ available: true, found: true })
    expect(query.calls.getReplicas).toBe(1)
    expect(query.calls.setReplicas).toBe(0)
  })
})

describe("a service scaled to zero", () => {
  it("is scaled to max(minReplicas, 1) once and released when ready (polling)", async () => {
    const query = backend({
      services: { echo: { minReplicas: 3 } },
      startupDelayMs: 30,
      watch: false,
    })
    const events: ScalingEvent[] = []
    const scaler = createFunctionScaler({
      serviceQuery: query,
      functionPollInterval: 5,
      onEvent: (event) => events.push(event),
    })
    const result = await scaler.scale("echo", NS)
    expect(result).toMatchObject({ available: true, found: true, coldStart: true })
    expect(result.durationMs).toBeGreaterThanOrEqual(25)
    expect(query.status("echo", NS)).toMatchObject({ replicas: 3, availableReplicas: 3 })
    expect(events.map((e) => e.type)).toEqual(["scale-up", "ready"])
    expect(events[0]).toMatchObject({ service: "echo", namespace: NS, replicas: 3 })
    // The ready answer is cached: the next call is warm.
    expect(await scaler.scale("echo", NS)).toMatchObject({ available: true, coldStart: false })
  })

  it.each([
    ["watch", true],
    ["polling", false],
  ])(
    "makes one setReplicas call for 10 000 concurrent callers, and getReplicas calls that do not grow with them (%s)",
    async (_, watch) => {
      const run = async (callers: number) => {
        const query = backend({ services: { echo: {} }, startupDelayMs: 40, watch })
        const scaler = createFunctionScaler({ serviceQuery: query, functionPollInterval: 10 })
        const results = await Promise.all(
          Array.from({ length: callers }, () => scaler.scale("echo", NS)),
        )
        expect(results.every((r) => r.available && r.coldStart)).toBe(true)
        expect(scaler.totalWaiting).toBe(0)
        return query.calls
      }
      const few = await run(10)
      const many = await run(10_000)
      expect(many.setReplicas).toBe(1)
      expect(few.setReplicas).toBe(1)
      // Polls depend on time (40 ms start-up / 10 ms interval), not on callers; allow scheduling jitter.
      expect(many.getReplicas).toBeLessThanOrEqual(few.getReplicas + 3)
      expect(many.getReplicas).toBeLessThan(20)
      // One watch for the wake, one keeping the ready service's cache entry right.
      if (watch) expect(many.watch).toBe(2)
    },
  )

  it("releases watchers on the push, without waiting for a poll tick", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 20 })
    // A poll tick would take 10 minutes: only the push can release the caller within the test.
    const scaler = createFunctionScaler({ serviceQuery: query, functionPollInterval: 600_000 })
    const result = await scaler.scale("echo", NS)
    expect(result).toMatchObject({ available: true, coldStart: true })
    expect(query.calls.getReplicas).toBe(2) // the first read, and the read that closes the subscribe race
    // The wake's watch ended; the ready service stays watched while cached, until close().
    expect(query.activeWatches).toBe(1)
    scaler.close()
    expect(query.activeWatches).toBe(0)
  })

  it("does not scale up when replicas are already desired, it only waits", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 30 })
    await query.setReplicas("echo", NS, 2)
    const before = query.calls.setReplicas
    const scaler = createFunctionScaler({ serviceQuery: query, functionPollInterval: 5 })
    expect(await scaler.scale("echo", NS)).toMatchObject({ available: true, coldStart: true })
    expect(query.calls.setReplicas).toBe(before)
    expect(query.status("echo", NS)?.replicas).toBe(2)
  })
})

describe("retries", () => {
  it("retries a failed scale-up every poll interval, then succeeds", async () => {
    const query = backend({ services: { echo: {} }, watch: false })
    const setReplicas = query.setReplicas.bind(query)
    let failures = 2
    query.setReplicas = async (...args) => {
      if (failures-- > 0) throw new Error("transient")
      return setReplicas(...args)
    }
    const scaler = createFunctionScaler({ serviceQuery: query, functionPollInterval: 5 })
    expect(await scaler.scale("echo", NS)).toMatchObject({ available: true })
    expect(query.calls.setReplicas).toBe(1) // only the third attempt reached the backend
    expect(failures).toBe(-1)
  })

  it("gives up after setScaleRetries attempts with the provider's error", async () => {
    const query = backend({ services: { echo: {} }, watch: false })
    let attempts = 0
    query.setReplicas = async () => {
      attempts++
      throw new Error("quota exceeded")
    }
    const scaler = createFunctionScaler({
      serviceQuery: query,
      functionPollInterval: 2,
      setScaleRetries: 4,
    })
    const result = await scaler.scale("echo", NS)
    expect(attempts).toBe(4)
    expect(result).toMatchObject({ available: false, found: true })
    expect(result.error?.message).toBe("quota exceeded")
  })
})

describe("bounded waits", () => {
  it("reports a service not ready within the timeout as not available (upstream proxied it)", async () => {
    const query = backend({ services: { slow: {} }, startupDelayMs: 60_000, watch: false })
    const events: ScalingEvent[] = []
    const scaler = createFunctionScaler({
      serviceQuery: query,
      functionPollInterval: 5,
      timeout: 40,
      onEvent: (e) => events.push(e),
    })
    const result = await scaler.scale("slow", NS)
    expect(result).toMatchObject({ available: false, found: true })
    expect(result.error).toBeInstanceOf(ScaleTimeoutError)
    expect(result.durationMs).toBeGreaterThanOrEqual(35)
    expect(events.map((e) => e.type)).toContain("timeout")
    // Nobody waits any more: polling has stopped.
    await settle(20)
    const polls = query.calls.getReplicas
    await settle(30)
    expect(query.calls.getReplicas).toBe(polls)
  })

  it("times each caller out at its own deadline, sharing one wake", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 260 })
    const scaler = createFunctionScaler({ serviceQuery: query, timeout: 200 })
    const early = scaler.scale("echo", NS)
    await settle(150)
    const late = scaler.scale("echo", NS)
    const earlyResult = await early
    expect(earlyResult.error).toBeInstanceOf(ScaleTimeoutError)
    expect(scaler.waiting("echo", NS)).toBe(1)
    // The late caller's deadline (350 ms) falls after the service is ready (260 ms).
    expect(await late).toMatchObject({ available: true, coldStart: true })
    expect(query.calls.setReplicas).toBe(1)
  })

  it("defaults the timeout to maxPollCount × functionPollInterval", () => {
    const scaler = createFunctionScaler({
      serviceQuery: createMemoryServiceQuery(),
      maxPollCount: 7,
      functionPollInterval: 30,
    })
    expect(scaler.config.timeout).toBe(210)
  })

  it("rejects nonsense settings with a clear error", () => {
    const serviceQuery = createMemoryServiceQuery()
    expect(() => createFunctionScaler({ serviceQuery, timeout: -1 })).toThrow(/timeout/)
    expect(() => createFunctionScaler({ serviceQuery, functionPollInterval: 0 })).toThrow(
      /functionPollInterval/,
    )
    expect(() => createFunctionScaler({} as never)).toThrow(/serviceQuery/)
  })
})

describe("aborts", () => {
  it("settles an aborted caller at once, leaving the others waiting", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 50 })
    const scaler = createFunctionScaler({ serviceQuery: query })
    const leaving = new AbortController()
    const left = scaler.scale("echo", NS, { signal: leaving.signal })
    const staying = scaler.scale("echo", NS)
    await settle(5)
    expect(scaler.waiting("echo", NS)).toBe(2)
    leaving.abort(new Error("client gone"))
    const leftResult = await left
    expect(leftResult).toMatchObject({ available: false, found: true })
    expect(leftResult.error?.message).toBe("client gone")
    expect(abortListeners(leaving.signal)).toBe(0)
    expect(scaler.waiting("echo", NS)).toBe(1)
    expect(await staying).toMatchObject({ available: true, coldStart: true })
    expect(query.calls.setReplicas).toBe(1)
  })

  it("settles a call with an already-aborted signal without asking the backend", async () => {
    const query = backend({ services: { echo: {} } })
    const scaler = createFunctionScaler({ serviceQuery: query })
    const result = await scaler.scale("echo", NS, { signal: AbortSignal.abort(new Error("gone")) })
    expect(result).toMatchObject({ available: false, found: true })
    expect(result.error?.message).toBe("gone")
    expect(query.calls.getReplicas).toBe(0)
  })

  it("stops polling once the last caller has left, after the scale-up was asked for", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 60_000, watch: false })
    const scaler = createFunctionScaler({ serviceQuery: query, functionPollInterval: 5 })
    const controller = new AbortController()
    const pending = scaler.scale("echo", NS, { signal: controller.signal })
    await settle(12)
    controller.abort()
    await pending
    expect(query.calls.setReplicas).toBe(1)
    await settle(10)
    const polls = query.calls.getReplicas
    await settle(30)
    expect(query.calls.getReplicas).toBe(polls)
    expect(scaler.totalWaiting).toBe(0)
  })

  it("close() ends every wait", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 60_000 })
    const scaler = createFunctionScaler({ serviceQuery: query })
    const pending = Promise.all([scaler.scale("echo", NS), scaler.scale("echo", NS)])
    await settle(5)
    scaler.close()
    const results = await pending
    expect(results.every((r) => !r.available && r.error?.name === "AbortError")).toBe(true)
    expect(scaler.totalWaiting).toBe(0)
  })
})

describe("unknown services and provider errors", () => {
  it("reports an unknown service as not found and remembers it briefly", async () => {
    const query = backend({})
    const scaler = createFunctionScaler({ serviceQuery: query, notFoundExpiry: 60_000 })
    const results = await Promise.all(Array.from({ length: 50 }, () => scaler.scale("ghost", NS)))
    for (const result of results) {
      expect(result).toMatchObject({ available: false, found: false })
      expect(result.error).toBeInstanceOf(ServiceNotFoundError)
    }
    expect(query.calls.getReplicas).toBe(1)
    await scaler.scale("ghost", NS)
    expect(query.calls.getReplicas).toBe(1)
    expect(scaler.isKnownMissing("ghost", NS)).toBe(true)
  })

  it("remembers nothing by default: a service deployed right after its 404 is served, concurrent requests share one read", async () => {
    const query = backend({})
    const scaler = createFunctionScaler({ serviceQuery: query })
    const results = await Promise.all(Array.from({ length: 20 }, () => scaler.scale("fresh", NS)))
    expect(results.every((r) => r.outcome === "not-found")).toBe(true)
    expect(query.calls.getReplicas).toBe(1)
    expect(scaler.isKnownMissing("fresh", NS)).toBe(false)
    query.addService("fresh", NS, { replicas: 1 })
    expect(await scaler.scale("fresh", NS)).toMatchObject({ outcome: "ready" })
  })

  it("asks again once the not-found memory has expired", async () => {
    const query = backend({})
    const scaler = createFunctionScaler({ serviceQuery: query, notFoundExpiry: 10 })
    await scaler.scale("late", NS)
    query.addService("late", NS, { replicas: 1 })
    await settle(15)
    expect(await scaler.scale("late", NS)).toMatchObject({ available: true })
  })

  it("keeps a provider error a provider error (upstream answered 404)", async () => {
    const query = backend({ services: { echo: {} } })
    query.failWith(new Error("connection refused"))
    const events: ScalingEvent[] = []
    const scaler = createFunctionScaler({ serviceQuery: query, onEvent: (e) => events.push(e) })
    const result = await scaler.scale("echo", NS)
    expect(result).toMatchObject({ available: false, found: true })
    expect(result.error?.message).toBe("connection refused")
    expect(events).toEqual([
      expect.objectContaining({ type: "error", service: "echo", namespace: NS }),
    ])
  })

  it("does not remember more unknown names than its bound", async () => {
    const query = backend({})
    const scaler = createFunctionScaler({ serviceQuery: query, notFoundExpiry: 60_000 })
    for (let i = 0; i < 10_050; i++) await scaler.scale(`ghost-${i}`, NS)
    expect(scaler.isKnownMissing("ghost-0", NS)).toBe(false) // evicted, least recently used
    expect(scaler.isKnownMissing("ghost-10049", NS)).toBe(true)
  })
})

describe("background refresh", () => {
  it("re-reads a service once however often it is asked to", async () => {
    const query = backend({ services: { echo: { replicas: 1 } } })
    const scaler = createFunctionScaler({ serviceQuery: query })
    for (let i = 0; i < 100; i++) scaler.refresh("echo", NS)
    await settle(1)
    expect(query.calls.getReplicas).toBe(1)
    expect(scaler.peek("echo", NS)?.availableReplicas).toBe(1)
  })
})

describe("a backend whose push is lost", () => {
  it("still releases callers by re-reading the status now and then", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 20 })
    // A watch that subscribes but never calls back.
    query.watch = () => {}
    const scaler = createFunctionScaler({
      serviceQuery: query,
      functionPollInterval: 1,
      timeout: 5000,
    })
    const result = await scaler.scale("echo", NS)
    expect(result).toMatchObject({ available: true, coldStart: true })
    expect(result.durationMs).toBeLessThan(5000)
  })
})

describe("a watch that reports the backend unreachable", () => {
  it("ends the wait with the backend's error at once", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 60_000 })
    query.watch = (_name, _namespace, _onChange, options) => {
      setTimeout(() => options?.onError?.(new Error("engine at unix:///x.sock: ECONNREFUSED")), 5)
    }
    const scaler = createFunctionScaler({ serviceQuery: query, timeout: 10_000 })
    const result = await scaler.scale("echo", NS)
    expect(result).toMatchObject({ available: false, found: true })
    expect(result.error?.message).toContain("ECONNREFUSED")
    expect(result.durationMs).toBeLessThan(1000)
  })
})

describe("wakeSettled", () => {
  it("is undefined with no wake, and resolves when the wake ends", async () => {
    const query = backend({ services: { echo: {} }, startupDelayMs: 30 })
    const scaler = createFunctionScaler({ serviceQuery: query })
    expect(scaler.wakeSettled("echo", NS)).toBeUndefined()
    const scaling = scaler.scale("echo", NS)
    const settled = scaler.wakeSettled("echo", NS)
    expect(settled).toBeInstanceOf(Promise)
    await settled
    expect(scaler.wakeSettled("echo", NS)).toBeUndefined()
    expect((await scaling).available).toBe(true)
  })
})

describe("a backend call that never answers", () => {
  const ready = {
    replicas: 1,
    availableReplicas: 1,
    minReplicas: 1,
    maxReplicas: 5,
    scalingFactor: 10,
  }

  it("does not wedge the service: the wake is forgotten and the next call starts afresh (the issue's reproduction)", async () => {
    timersBefore = activeTimers()
    let calls = 0
    const signals: AbortSignal[] = []
    const serviceQuery = {
      setReplicas: async () => {},
      getReplicas: (_n: string, _ns: string, o?: { signal?: AbortSignal }) => {
        if (o?.signal) signals.push(o.signal)
        return ++calls === 1
          ? new Promise<typeof ready>((_, reject) =>
              o?.signal?.addEventListener("abort", () => reject(o.signal?.reason)),
            )
          : Promise.resolve(ready)
      },
    }
    const scaler = createFunctionScaler({ serviceQuery, timeout: 200 })
    const seen = []
    for (let i = 0; i < 3; i++) {
      const result = await scaler.scale("echo", NS)
      seen.push([result.outcome, calls])
    }
    expect(seen).toEqual([
      ["timeout", 1],
      ["ready", 2],
      ["ready", 2],
    ])
    // The hung call was aborted (the listener left on its signal is the backend's own), and
    // nothing the scaler made for the calls still listens or ticks.
    expect(signals[0]?.aborted).toBe(true)
    for (const signal of signals.slice(1)) expect(abortListeners(signal)).toBe(0)
    await settle(5)
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore)
  })

  it("fails the wake with a BackendError past its deadline, even when the call ignores its signal", async () => {
    const serviceQuery = {
      setReplicas: async () => {},
      getReplicas: () => new Promise<typeof ready>(() => {}),
    }
    // The call's deadline is the timeout plus one poll interval: 170 ms.
    const scaler = createFunctionScaler({ serviceQuery, timeout: 150, functionPollInterval: 20 })
    const first = scaler.scale("echo", NS)
    await settle(60)
    // Joins the same wake later: its own deadline (210 ms) is later than the call's (170 ms).
    const second = scaler.scale("echo", NS)
    expect((await first).outcome).toBe("timeout")
    const late = await second
    expect(late.outcome).toBe("backend-error")
    expect(late.error?.message).toBe("reading echo.openfaas-fn gave no answer within 170ms")
    expect(late.error).toMatchObject({ code: "ERR_BACKEND" })
  })

  it("aborts a hanging scale-up when its last caller leaves, and does not retry it for nobody", async () => {
    let sets = 0
    const serviceQuery = {
      getReplicas: async () => ({ ...ready, replicas: 0, availableReplicas: 0 }),
      setReplicas: (_n: string, _ns: string, _c: number, o?: { signal?: AbortSignal }) => {
        sets++
        return new Promise<void>((_, reject) =>
          o?.signal?.addEventListener("abort", () => reject(o.signal?.reason)),
        )
      },
    }
    const scaler = createFunctionScaler({
      serviceQuery,
      functionPollInterval: 5,
      setScaleRetries: 20,
    })
    const leaving = new AbortController()
    const pending = scaler.scale("echo", NS, { signal: leaving.signal })
    await settle(20)
    expect(sets).toBe(1)
    leaving.abort(new Error("client gone"))
    expect((await pending).outcome).toBe("aborted")
    expect(scaler.wakeSettled("echo", NS)).toBeUndefined()
    await settle(50)
    expect(sets).toBe(1)
  })
})

describe("names", () => {
  it("refuses a name or namespace no backend could hold, before any backend call", async () => {
    const query = backend({ services: { echo: { replicas: 1 } } })
    const scaler = createFunctionScaler({ serviceQuery: query })
    for (const [name, namespace] of [
      ["../secrets", NS],
      ["echo", "../kube-system"],
      ["", NS],
      [undefined, NS],
      ["echo", 42],
    ] as [string, string][]) {
      const result = await scaler.scale(name, namespace)
      expect(result).toMatchObject({ outcome: "invalid-name", available: false, found: false })
      expect(result.error).toMatchObject({ code: "ERR_INVALID_SERVICE_NAME" })
      scaler.refresh(name, namespace)
      await expect(scaler.scaleDown(name, namespace)).rejects.toMatchObject({
        code: "ERR_INVALID_SERVICE_NAME",
      })
    }
    expect((await scaler.scale("../secrets", NS)).error?.message).toBe(
      `invalid service name "../secrets": only letters, digits, '-', '_' and '.' are allowed`,
    )
    await settle(5)
    expect(query.calls).toMatchObject({ getReplicas: 0, setReplicas: 0, watch: 0 })
  })
})

describe("options", () => {
  it.each([
    [{ maxStaleMs: -1 }, "option maxStaleMs must be a non-negative number, got -1"],
    [{ onEvent: "log" }, 'option onEvent must be a function, got "log"'],
    [{ watchCached: "yes" }, 'option watchCached must be a boolean, got "yes"'],
    [{ timeout: 0 }, "option timeout must be a positive number, got 0"],
  ])("refuses %o with a TypeError naming the option", (options, message) => {
    const query = backend({ services: {} })
    const create = () => createFunctionScaler({ serviceQuery: query, ...(options as object) })
    expect(create).toThrow(TypeError)
    expect(create).toThrow(message)
  })

  it("refuses a cache that is not a FunctionCacher", () => {
    const query = backend({ services: {} })
    expect(() => createFunctionScaler({ serviceQuery: query }, {} as never)).toThrow(
      /option cache must be a FunctionCacher/,
    )
  })

  it("defaults maxStaleMs to four cache periods", () => {
    const query = backend({ services: {} })
    expect(createFunctionScaler({ serviceQuery: query }).config.maxStaleMs).toBe(1000)
    expect(createFunctionScaler({ serviceQuery: query, cacheExpiry: 50 }).config.maxStaleMs).toBe(
      200,
    )
  })
})

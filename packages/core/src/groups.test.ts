import { afterEach, describe, expect, it, vi } from "vitest"
import { ERROR_CODES } from "./errors.js"
import { createGate, type Gate, type GatePass, type GateRequest } from "./gate.js"
import { refusalFormat } from "./refusal.js"
import { createMemorySharedWakes } from "./shared-wake.js"
import {
  createMemoryServiceQuery,
  type MemoryServiceDefinition,
  type MemoryServiceQuery,
} from "./testing/memory-service-query.js"

// Dependencies, gate.wake and gate.sleep, keepWarm windows (on a fake clock), the options of
// middlewares over a shared gate, and refusal formats: the gate alone. Through real HTTP on
// every adapter: packages/test-kit/src/adapter-contract.ts.

const NS = "openfaas-fn"
const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  vi.useRealTimers()
})

function backend(services: Record<string, MemoryServiceDefinition>): MemoryServiceQuery {
  const serviceQuery = createMemoryServiceQuery({ services })
  cleanups.push(() => serviceQuery.close())
  return serviceQuery
}

function track(gate: Gate): Gate {
  cleanups.push(() => gate.close())
  return gate
}

const replicas = (serviceQuery: MemoryServiceQuery, name: string) =>
  serviceQuery.status(name, NS)?.replicas

describe("dependencies", () => {
  it("rejects a cycle in the option at once, naming it", () => {
    const serviceQuery = backend({})
    expect(() =>
      createGate({
        serviceQuery,
        dependencies: { web: ["api"], api: ["db"], db: ["web"] },
      }),
    ).toThrow(
      "dependency cycle: web.openfaas-fn → api.openfaas-fn → db.openfaas-fn → web.openfaas-fn",
    )
    expect(() => createGate({ serviceQuery, dependencies: { web: ["web"] } })).toThrow(
      "dependency cycle: web.openfaas-fn → web.openfaas-fn",
    )
  })

  it("checks the option's shape and names", () => {
    const serviceQuery = backend({})
    expect(() => createGate({ serviceQuery, dependencies: [] as never })).toThrow(
      "option dependencies must be an object { service: [dependencies] }, got an array",
    )
    expect(() => createGate({ serviceQuery, dependencies: { web: "api" as never } })).toThrow(
      'option dependencies["web"] must be an array of services or { services, parallel? }, got "api"',
    )
    expect(() => createGate({ serviceQuery, dependencies: { web: ["bad name"] } })).toThrow(
      'option dependencies["web"] must be service names, got "bad name"',
    )
  })

  it("fails a wake whose dependency the backend does not know, saying which", async () => {
    const serviceQuery = backend({ api: {} })
    const gate = track(createGate({ serviceQuery, dependencies: { api: ["db.data"] } }))
    const result = await gate.wake("api")
    expect(result.outcome).toBe("backend-error")
    expect(result.error?.message).toBe(
      "api.openfaas-fn depends on db.data, which the backend does not know",
    )
    expect((result.error as { code?: string }).code).toBe(ERROR_CODES.dependency)
    expect(serviceQuery.calls.setReplicas).toBe(0)
  })

  it("wakes a diamond's shared dependency once", async () => {
    const serviceQuery = backend({ top: {}, left: {}, right: {}, base: {} })
    const gate = track(
      createGate({
        serviceQuery,
        dependencies: { top: ["left", "right"], left: ["base"], right: ["base"] },
      }),
    )
    expect((await gate.wake("top")).outcome).toBe("ready")
    expect(serviceQuery.calls.setReplicas).toBe(4)
    for (const name of ["top", "left", "right", "base"])
      expect(replicas(serviceQuery, name)).toBe(1)
  })
})

describe("gate.wake and gate.sleep", () => {
  it("wake settles with the wake's outcome, for any service, with no request", async () => {
    const serviceQuery = backend({ echo: { startupDelayMs: 50 } })
    const gate = track(createGate({ serviceQuery }))
    const woken = await gate.wake("echo")
    expect(woken).toMatchObject({ outcome: "ready", coldStart: true })
    expect(woken.durationMs).toBeGreaterThanOrEqual(40)
    expect(await gate.wake("echo")).toMatchObject({ outcome: "ready", coldStart: false })
    expect((await gate.wake("ghost")).outcome).toBe("not-found")
    expect((await gate.wake("bad name")).outcome).toBe("invalid-name")
  })

  it("sleep checks its options and names", async () => {
    const serviceQuery = backend({ echo: { replicas: 1 } })
    const gate = track(createGate({ serviceQuery }))
    await expect(gate.sleep("echo", NS, { drainMs: -1 })).rejects.toThrow(
      "option drainMs must be a non-negative number, got -1",
    )
    await expect(gate.sleep("bad name")).rejects.toThrow("invalid service name")
    expect(await gate.sleep("echo")).toBe(true)
    expect(replicas(serviceQuery, "echo")).toBe(0)
  })

  it("sleep waits out a drainMs asked for when requests are not counted", async () => {
    vi.useFakeTimers()
    const serviceQuery = backend({ echo: { replicas: 1 } })
    const gate = track(createGate({ serviceQuery }))
    let slept = false
    void gate.sleep("echo", NS, { drainMs: 1000 }).then(() => {
      slept = true
    })
    await vi.advanceTimersByTimeAsync(999)
    expect(replicas(serviceQuery, "echo")).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(slept).toBe(true)
    expect(replicas(serviceQuery, "echo")).toBe(0)
  })
})

describe("keepWarm on a fake clock", () => {
  const hour = 3_600_000

  it("wakes at the window's start, keeps the service up inside it, lets it idle after", async () => {
    vi.useFakeTimers({
      now: new Date("2025-01-06T07:59:00Z"),
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
    })
    const serviceQuery = backend({ echo: {} })
    const gate = track(
      createGate({
        serviceQuery,
        keepWarm: [{ cron: "0 8 * * 1-5", forMs: 2 * hour, timeZone: "UTC", services: ["echo"] }],
        scaleToZero: { allServices: true, idleAfterMs: 60_000, checkIntervalMs: 10_000 },
      }),
    )
    await vi.advanceTimersByTimeAsync(59_000)
    expect(serviceQuery.calls.setReplicas).toBe(0)
    await vi.advanceTimersByTimeAsync(1_000) // 08:00
    expect(replicas(serviceQuery, "echo")).toBe(1)
    await vi.advanceTimersByTimeAsync(2 * hour - 1_000) // 09:59:59, idle for two hours
    expect(replicas(serviceQuery, "echo")).toBe(1)
    expect(serviceQuery.calls.setReplicas).toBe(1)
    // The window counts as activity at each idle check (every 10 s) while it is open: idle
    // from its last check inside, 60 s idle time, one check interval to notice.
    await vi.advanceTimersByTimeAsync(1_000 + 40_000) // 10:00:40
    expect(replicas(serviceQuery, "echo")).toBe(1)
    await vi.advanceTimersByTimeAsync(40_000) // 10:01:20
    expect(replicas(serviceQuery, "echo")).toBe(0)
    expect(serviceQuery.calls.setReplicas).toBe(2)
    expect(gate.status()).toBeDefined()
  })

  it("wakes at once when created inside a window, in the window's time zone", async () => {
    // 08:30 in Berlin is 07:30 UTC in winter.
    vi.useFakeTimers({
      now: new Date("2025-01-06T07:30:00Z"),
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
    })
    const serviceQuery = backend({ echo: {} })
    track(
      createGate({
        serviceQuery,
        keepWarm: [
          { cron: "0 8 * * 1-5", forMs: hour, timeZone: "Europe/Berlin", services: ["echo"] },
        ],
      }),
    )
    await vi.advanceTimersByTimeAsync(10)
    expect(replicas(serviceQuery, "echo")).toBe(1)
  })

  it("checks its windows", () => {
    const serviceQuery = backend({})
    expect(() => createGate({ serviceQuery, keepWarm: [{ cron: "nope", forMs: 1 }] })).toThrow(
      /^option keepWarm\[0\]\.cron must be a cron expression/,
    )
    expect(() =>
      createGate({
        serviceQuery,
        keepWarm: [{ cron: "0 8 * * *", forMs: 1, timeZone: "Mars/Base" }],
      }),
    ).toThrow(/^option keepWarm\[0\]\.cron must be a cron expression in a known time zone/)
    expect(() => createGate({ serviceQuery, keepWarm: [{ cron: "0 8 * * *", forMs: 0 }] })).toThrow(
      "option keepWarm[0].forMs must be a positive number, got 0",
    )
  })
})

describe("middlewares over a shared gate", () => {
  it("refuse shared options beside gate, a foreign gate and a longer timeout", () => {
    const serviceQuery = backend({})
    const shared = track(createGate({ serviceQuery, timeout: 1000 }))
    expect(() => createGate({ gate: shared, serviceQuery } as never)).toThrow(
      "option serviceQuery must be left out beside gate (the shared gate's applies), got an object",
    )
    expect(() => createGate({ gate: {} as Gate })).toThrow(
      "option gate must be a gate from createGate (or a middleware's .gate), got an object",
    )
    expect(() => createGate({ gate: shared, timeout: 2000 })).toThrow(
      "option timeout must be at most the shared gate's timeout (1000), got 2000",
    )
    expect(() => createGate({ gate: shared, prewarm: [{ services: ["a"] }] })).toThrow(
      "option prewarm[0] must be a hint with a path or a when predicate",
    )
  })

  it("share the cache: one route's wake makes the service warm for another", async () => {
    const serviceQuery = backend({ echo: {} })
    const shared = track(createGate({ serviceQuery }))
    const route = track(createGate({ gate: shared, resolve: () => ({ name: "echo" }) }))
    const request: GateRequest = { method: "GET", path: "/x", headers: new Headers() }
    expect(route.admit(request).kind).toBe("hold")
    await shared.wake("echo")
    expect(route.admit(request).kind).toBe("pass")
    route.close() // a route's close leaves the shared gate running
    expect(shared.admit({ ...request, path: "/function/echo" }).kind).toBe("pass")
  })
})

describe("with scale-out's counting and shared wakes", () => {
  it("wakes a group once across instances sharing their wakes", async () => {
    const serviceQuery = backend({ api: { startupDelayMs: 30 }, db: { startupDelayMs: 30 } })
    const wakes = createMemorySharedWakes()
    const instance = () =>
      track(
        createGate({ serviceQuery, dependencies: { api: ["db"] }, sharedWakes: wakes.instance() }),
      )
    const gates = [instance(), instance(), instance()]
    const results = await Promise.all(gates.map((gate) => gate.wake("api")))
    expect(results.map((result) => result.outcome)).toEqual(["ready", "ready", "ready"])
    // One scale-up each for api and db, by whichever instance led each wake.
    expect(serviceQuery.calls.setReplicas).toBe(2)
    expect(replicas(serviceQuery, "db")).toBe(1)
  })

  it("sleep drains the requests countInFlight counts, however long drainMs is", async () => {
    const serviceQuery = backend({ echo: { replicas: 1 } })
    const gate = track(createGate({ serviceQuery, countInFlight: true }))
    await gate.wake("echo")
    const pass = gate.admit({ method: "GET", path: "/function/echo", headers: new Headers() })
    expect(pass).toMatchObject({ kind: "pass", inFlight: { name: "echo" } })
    vi.useFakeTimers()
    let slept: boolean | undefined
    void gate.sleep("echo", NS, { drainMs: 60_000 }).then((done) => {
      slept = done
    })
    await vi.advanceTimersByTimeAsync(30_000)
    expect(replicas(serviceQuery, "echo")).toBe(1)
    gate.finished(pass as GatePass)
    await vi.advanceTimersByTimeAsync(0)
    expect(slept).toBe(true)
    expect(replicas(serviceQuery, "echo")).toBe(0)
  })

  it("keeps scaleOut, countInFlight and sharedWakes to the shared gate", () => {
    const shared = track(createGate({ serviceQuery: backend({}) }))
    expect(() => createGate({ gate: shared, scaleOut: { targetConcurrency: 5 } } as never)).toThrow(
      "option scaleOut must be left out beside gate (the shared gate's applies), got an object",
    )
    expect(() => createGate({ gate: shared, countInFlight: true } as never)).toThrow(
      "option countInFlight must be left out beside gate",
    )
    expect(() =>
      createGate({ gate: shared, sharedWakes: createMemorySharedWakes().instance() } as never),
    ).toThrow("option sharedWakes must be left out beside gate")
  })
})

describe("refusalFormat", () => {
  const format = (accept?: string) =>
    refusalFormat(new Headers(accept === undefined ? {} : { accept }))
  it("follows the client's Accept, in its order", () => {
    expect(format()).toBe("text")
    expect(format("*/*")).toBe("text")
    expect(format("application/json")).toBe("json")
    expect(format("application/problem+json")).toBe("json")
    expect(format("application/json;q=0, text/plain")).toBe("text")
    expect(format("text/html,application/xhtml+xml,*/*;q=0.8")).toBe("html")
    expect(format("application/json, text/html")).toBe("json")
  })
})

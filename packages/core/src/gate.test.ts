import { afterEach, describe, expect, it } from "vitest"
import { activeTimers, settle, until } from "../test/leak-check.js"
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "./constants.js"
import type { ScalingEvent } from "./events.js"
import {
  CLIENT_CLOSED_REQUEST,
  createGate,
  type Gate,
  type GatePass,
  type GateReply,
  type GateRequest,
  type GateVerdict,
  type ScaleFromZeroOptions,
} from "./gate.js"
import { createMemorySharedActivity } from "./shared-activity.js"
import {
  createMemoryServiceQuery,
  type MemoryServiceQuery,
} from "./testing/memory-service-query.js"

const NS = "openfaas-fn"
// curl's Accept: refusals in plain text (JSON clients get problem+json: refusal.test.ts).
const API = new Headers({ accept: "*/*" })
const BROWSER = new Headers({ accept: "text/html,application/xhtml+xml,*/*;q=0.8" })
const get = (path: string, headers: Headers = API): GateRequest => ({
  method: "GET",
  path,
  headers,
})

let gates: Gate[] = []
let backends: MemoryServiceQuery[] = []
let timersBefore = 0

function setup(
  backendOptions: Parameters<typeof createMemoryServiceQuery>[0],
  options: Omit<ScaleFromZeroOptions, "serviceQuery"> = {},
) {
  timersBefore = activeTimers()
  const serviceQuery = createMemoryServiceQuery(backendOptions)
  const events: ScalingEvent[] = []
  const gate = createGate({ serviceQuery, onEvent: (e) => events.push(e), ...options })
  gates.push(gate)
  backends.push(serviceQuery)
  return { gate, serviceQuery, events }
}

/** What an adapter does: admit, and wait when told to hold. */
async function handle(gate: Gate, request: GateRequest, signal = new AbortController().signal) {
  const verdict = gate.admit(request)
  return verdict.kind === "hold" ? gate.wait(verdict, signal) : verdict
}

function expectReply(verdict: GateVerdict, status: number): GateReply {
  expect(verdict.kind).toBe("reply")
  const reply = verdict as GateReply
  expect(reply.status).toBe(status)
  return reply
}

afterEach(async () => {
  for (const gate of gates) gate.close()
  for (const backend of backends) backend.close()
  await settle(5)
  // Give the test runner's own short-lived timers a moment; a leaked wait or poll stays.
  await until(() => activeTimers() <= timersBefore, 300).catch(() => {})
  expect(activeTimers()).toBeLessThanOrEqual(timersBefore)
  gates = []
  backends = []
})

describe("admit", () => {
  it("passes a path that is not for a service untouched, asking nothing of the backend", () => {
    const { gate, serviceQuery } = setup({})
    expect(gate.admit(get("/healthz"))).toEqual({ kind: "pass" })
    expect(gate.admit(get("/system/functions"))).toEqual({ kind: "pass" })
    expect(serviceQuery.calls.getReplicas).toBe(0)
  })

  it.each([
    "/function/bad%2Fname",
    "/function/bad name",
    "/function/ok.bad.namespace%20x",
    `/function/${"x".repeat(300)}`,
    "/function/name.",
  ])("answers 400 for %j without asking the backend", (path) => {
    const { gate, serviceQuery } = setup({})
    const reply = expectReply(gate.admit(get(path)), 400)
    expect(reply.body).toMatch(/^invalid service (name|namespace)/)
    expect(serviceQuery.calls.getReplicas).toBe(0)
  })

  it("passes a cached ready service with the same shared object: no allocation, no wait", async () => {
    const { gate, serviceQuery } = setup(
      { services: { echo: { replicas: 1 } } },
      { cacheExpiry: 60_000 },
    )
    expect(await handle(gate, get("/function/echo"))).toEqual({ kind: "pass" })
    const first = gate.admit(get("/function/echo/x"))
    const second = gate.admit(get("/function/echo/y?z=1"))
    expect(first).toBe(second)
    expect(serviceQuery.calls.getReplicas).toBe(1)
  })

  it("passes a stale ready service at once and re-reads it in the background", async () => {
    const { gate, serviceQuery } = setup(
      { services: { echo: { replicas: 1 } } },
      { cacheExpiry: 5 },
    )
    await handle(gate, get("/function/echo"))
    await settle(10)
    expect(gate.admit(get("/function/echo")).kind).toBe("pass")
    expect(gate.admit(get("/function/echo")).kind).toBe("pass")
    await settle(1)
    expect(serviceQuery.calls.getReplicas).toBe(2)
  })

  it("reads name.namespace and the async-function path", async () => {
    const { gate } = setup({ services: { "echo.staging": { replicas: 1 } } })
    expect((await handle(gate, get("/function/echo.staging/a"))).kind).toBe("pass")
    expect((await handle(gate, get("/async-function/echo.staging"))).kind).toBe("pass")
  })

  it("uses a custom resolver", async () => {
    const { gate } = setup(
      { services: { "api.prod": { replicas: 1 } } },
      {
        resolve: (r) =>
          r.path.startsWith("/api/") ? { name: "api", namespace: "prod" } : undefined,
      },
    )
    expect(gate.admit(get("/api/users"))).toMatchObject({
      kind: "hold",
      name: "api",
      namespace: "prod",
    })
    expect((await handle(gate, get("/api/users"))).kind).toBe("pass")
    // Only the resolver decides: OpenFaaS paths are no longer special.
    expect(gate.admit(get("/function/ghost"))).toEqual({ kind: "pass" })
  })
})

describe("wait", () => {
  it("holds a request for a service at zero and passes it when ready, with its cold-start time", async () => {
    const { gate, serviceQuery, events } = setup({ services: { echo: {} }, startupDelayMs: 30 })
    const verdict = gate.admit(get("/function/echo"))
    expect(verdict).toEqual({
      kind: "hold",
      name: "echo",
      namespace: NS,
      browser: false,
      format: "text",
      wakes: true,
      keepsAwake: true,
    })
    const pass = (await gate.wait(verdict as never, new AbortController().signal)) as GatePass
    expect(pass.kind).toBe("pass")
    expect(pass.coldStartMs).toBeGreaterThanOrEqual(25)
    expect(serviceQuery.calls.setReplicas).toBe(1)
    expect(events.map((e) => e.type)).toEqual(["scale-up", "ready"])
    expect(gate.admit(get("/function/echo"))).toEqual({ kind: "pass" })
  })

  it("answers 404 for an unknown service, then from memory without the backend (notFoundExpiry)", async () => {
    const { gate, serviceQuery } = setup({}, { notFoundExpiry: 60_000 })
    const reply = expectReply(await handle(gate, get("/function/ghost")), 404)
    expect(reply.body).toMatch(/^error finding function ghost\.openfaas-fn: /)
    expectReply(gate.admit(get("/function/ghost")), 404)
    expect(serviceQuery.calls.getReplicas).toBe(1)
  })

  it("serves a service deployed right after a 404 for it (nothing remembered by default)", async () => {
    const { gate, serviceQuery } = setup({})
    expectReply(await handle(gate, get("/function/late")), 404)
    serviceQuery.addService("late", NS, { replicas: 0 })
    const verdict = gate.admit(get("/function/late"))
    expect(verdict.kind).toBe("hold")
    const pass = await gate.wait(verdict as never, new AbortController().signal)
    expect(pass.kind).toBe("pass")
    expect(serviceQuery.calls.setReplicas).toBe(1)
  })

  it("answers 502 for a backend error", async () => {
    const { gate, serviceQuery } = setup({ services: { echo: {} } })
    serviceQuery.failWith(new Error("connection refused"))
    const reply = expectReply(await handle(gate, get("/function/echo")), 502)
    expect(reply.body).toBe("error scaling function echo.openfaas-fn: connection refused")
  })

  it("answers 504 with Retry-After when the service is not ready in time", async () => {
    const { gate, events } = setup(
      { services: { slow: {} }, startupDelayMs: 60_000 },
      { timeout: 30, retryAfter: 7 },
    )
    const reply = expectReply(await handle(gate, get("/function/slow")), 504)
    expect(reply.headers["retry-after"]).toBe("7")
    expect(events.map((e) => e.type)).toContain("timeout")
  })

  it("sheds beyond maxWaiting with 503 and Retry-After, keeping the held ones", async () => {
    const { gate, events } = setup(
      { services: { a: {}, b: {} }, startupDelayMs: 40 },
      { maxWaiting: 3 },
    )
    const held = [1, 2, 3].map(() => handle(gate, get("/function/a")))
    await settle(1)
    const shed = expectReply(await handle(gate, get("/function/b")), 503)
    expect(shed.headers["retry-after"]).toBe("1")
    expect(shed.body).toContain("limit 3")
    expect(events).toContainEqual({
      type: "shed",
      service: "b",
      namespace: NS,
      limit: 3,
      scope: "gateway",
    })
    for (const verdict of await Promise.all(held)) expect(verdict.kind).toBe("pass")
    expect(gate.scaler.totalWaiting).toBe(0)
  })

  it("sheds beyond maxWaitingPerService for that service only", async () => {
    const { gate } = setup(
      { services: { a: {}, b: {} }, startupDelayMs: 30 },
      { maxWaitingPerService: 2 },
    )
    const held = [handle(gate, get("/function/a")), handle(gate, get("/function/a"))]
    await settle(1)
    expectReply(await handle(gate, get("/function/a")), 503)
    expect((await handle(gate, get("/function/b"))).kind).toBe("pass")
    for (const verdict of await Promise.all(held)) expect(verdict.kind).toBe("pass")
  })

  it("ends a held request at once when its client leaves, disturbing no other", async () => {
    const { gate } = setup({ services: { echo: {} }, startupDelayMs: 40 })
    const client = new AbortController()
    const leaving = handle(gate, get("/function/echo"), client.signal)
    const staying = handle(gate, get("/function/echo"))
    await settle(5)
    client.abort()
    expectReply(await leaving, CLIENT_CLOSED_REQUEST)
    expect(gate.scaler.totalWaiting).toBe(1)
    expect((await staying).kind).toBe("pass")
  })
})

describe("wait with a throwing observer", () => {
  it("rejects only the wait whose observer threw: the wake's others are answered, counts freed", async () => {
    let throws = 1
    const { gate } = setup(
      { services: { a: {}, b: {} }, startupDelayMs: 20 },
      {
        maxWaiting: 2,
        observers: [
          {
            holdEnded() {
              if (throws-- > 0) throw new Error("observer failed")
            },
          },
        ],
      },
    )
    const outcomes = await Promise.allSettled([
      handle(gate, get("/function/a")),
      handle(gate, get("/function/a")),
    ])
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"])
    // Both holds were uncounted: two more fit under maxWaiting.
    const next = await Promise.all([
      handle(gate, get("/function/b")),
      handle(gate, get("/function/b")),
    ])
    expect(next.map((verdict) => verdict.kind)).toEqual(["pass", "pass"])
    expect(gate.scaler.totalWaiting).toBe(0)
  })
})

describe("default namespace", () => {
  it("is the backend's when the option names none, and the option's when it does", async () => {
    const backend = { services: { web: {} }, defaultNamespace: "default" }
    const { gate } = setup(backend)
    expect((await handle(gate, get("/function/web"))).kind).toBe("pass")
    expect(expectReply(await handle(gate, get("/function/nope")), 404).body).toBe(
      "error finding function nope.default: not found",
    )
    const { gate: given } = setup(backend, { defaultNamespace: "other" })
    expect(expectReply(await handle(given, get("/function/web")), 404).body).toBe(
      "error finding function web.other: not found",
    )
  })
})

describe("waiting page", () => {
  it("shows browsers a self-refreshing page after afterMs, while API clients stay held", async () => {
    const { gate } = setup(
      { services: { "slow<b>": {}, slow: {} }, startupDelayMs: 80 },
      { waitingPage: { afterMs: 20, refreshSeconds: 3 } },
    )
    const api = handle(gate, get("/function/slow"))
    const page = expectReply(await handle(gate, get("/function/slow", BROWSER)), 503)
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
    expect(page.headers["retry-after"]).toBe("1")
    expect(page.body).toContain('<meta http-equiv="refresh" content="3">')
    expect(page.body).toContain("<code>slow.openfaas-fn</code>")
    expect(page.body).toContain('role="status"')
    expect((await api).kind).toBe("pass")
    // Once ready, the browser's reload passes.
    expect(gate.admit(get("/function/slow", BROWSER)).kind).toBe("pass")
  })

  it("passes a browser straight through when the service is ready within afterMs", async () => {
    const { gate } = setup(
      { services: { quick: {} }, startupDelayMs: 5 },
      { waitingPage: { afterMs: 2000 } },
    )
    expect((await handle(gate, get("/function/quick", BROWSER))).kind).toBe("pass")
  })

  it("holds browsers too when the page is off", async () => {
    const { gate } = setup({ services: { s: {} }, startupDelayMs: 30 }, { waitingPage: false })
    expect((await handle(gate, get("/function/s", BROWSER))).kind).toBe("pass")
  })

  it("keeps scaling up after the page was shown to the only waiting browser", async () => {
    const { gate, serviceQuery } = setup(
      { services: { s: {} }, startupDelayMs: 30 },
      { waitingPage: { afterMs: 0 } },
    )
    expectReply(await handle(gate, get("/function/s", BROWSER)), 503)
    await settle(50)
    expect(serviceQuery.status("s", NS)).toMatchObject({ replicas: 1, availableReplicas: 1 })
  })
})

describe("idle scale-to-zero", () => {
  const labels = { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: "60ms" }

  it("scales an opted-in service to zero once idle, and wakes it again on the next request", async () => {
    const { gate, serviceQuery, events } = setup(
      { services: { idle: { replicas: 1, labels } } },
      { scaleToZero: { checkIntervalMs: 10 } },
    )
    const pass = (await handle(gate, get("/function/idle"))) as GatePass
    expect(pass.inFlight).toMatchObject({ name: "idle", namespace: NS })
    gate.finished(pass)
    await until(() => serviceQuery.status("idle", NS)?.replicas === 0)
    expect(serviceQuery.status("idle", NS)?.replicas).toBe(0)
    expect(events).toContainEqual(expect.objectContaining({ type: "scale-down", service: "idle" }))
    const again = (await handle(gate, get("/function/idle"))) as GatePass
    expect(again.kind).toBe("pass")
    expect(again.coldStartMs).toBeGreaterThanOrEqual(0)
    expect(serviceQuery.status("idle", NS)?.replicas).toBe(1)
    gate.finished(again)
  })

  it("never scales down a service with a request still in flight (a long stream)", async () => {
    const { gate, serviceQuery } = setup(
      { services: { stream: { replicas: 1, labels } } },
      { scaleToZero: { checkIntervalMs: 10 } },
    )
    const streaming = (await handle(gate, get("/function/stream"))) as GatePass
    await settle(150)
    expect(serviceQuery.status("stream", NS)?.replicas).toBe(1)
    gate.finished(streaming)
    await until(() => serviceQuery.status("stream", NS)?.replicas === 0)
    expect(serviceQuery.status("stream", NS)?.replicas).toBe(0)
  })

  it("leaves services that did not opt in alone, and tracks them without a per-request object", async () => {
    const { gate, serviceQuery } = setup(
      { services: { plain: { replicas: 1 } } },
      { scaleToZero: { idleAfterMs: 20, checkIntervalMs: 10 } },
    )
    const pass = (await handle(gate, get("/function/plain"))) as GatePass
    expect(pass).toEqual({ kind: "pass" })
    await settle(80)
    expect(serviceQuery.status("plain", NS)?.replicas).toBe(1)
  })

  it("scales every idle service down with allServices", async () => {
    const { gate, serviceQuery } = setup(
      { services: { plain: { replicas: 1 } } },
      { scaleToZero: { idleAfterMs: 20, checkIntervalMs: 10, allServices: true } },
    )
    gate.finished((await handle(gate, get("/function/plain"))) as GatePass)
    await until(() => serviceQuery.status("plain", NS)?.replicas === 0)
    expect(serviceQuery.status("plain", NS)?.replicas).toBe(0)
  })

  it("with shared activity, scales down only once idle on every instance, and only once", async () => {
    // Idle after 300 ms, checked every 10 ms: room for timers running late on a loaded machine.
    const slowLabels = { ...labels, [ZERO_DURATION_LABEL]: "300ms" }
    const serviceQuery = createMemoryServiceQuery({
      services: { s: { replicas: 1, labels: slowLabels } },
    })
    backends.push(serviceQuery)
    timersBefore = activeTimers()
    const shared = createMemorySharedActivity()
    const events: ScalingEvent[] = []
    const [a, b] = ["a", "b"].map(() => {
      const gate = createGate({
        serviceQuery,
        onEvent: (e) => events.push(e),
        scaleToZero: { checkIntervalMs: 10, shared },
      })
      gates.push(gate)
      return gate
    }) as [Gate, Gate]
    // B served one request and finished; A keeps one in flight (a long download, say).
    b.finished((await handle(b, get("/function/s"))) as GatePass)
    const streaming = (await handle(a, get("/function/s"))) as GatePass
    await settle(600)
    expect(serviceQuery.status("s", NS)?.replicas).toBe(1)
    expect(events.filter((e) => e.type === "scale-down")).toEqual([])
    a.finished(streaming)
    await until(() => serviceQuery.status("s", NS)?.replicas === 0)
    expect(serviceQuery.status("s", NS)?.replicas).toBe(0)
    expect(events.filter((e) => e.type === "scale-down")).toHaveLength(1)
    expect(serviceQuery.calls.setReplicas).toBe(1)
  })

  describe("with shared activity, a service only another instance served (it restarted, an evicted isolate)", () => {
    const slowLabels = { ...labels, [ZERO_DURATION_LABEL]: "300ms" }
    /** Gate `a` serves s once and is gone; returns what the next instance needs. */
    const servedByAnotherInstance = async () => {
      const serviceQuery = createMemoryServiceQuery({
        services: { s: { replicas: 1, labels: slowLabels } },
      })
      backends.push(serviceQuery)
      timersBefore = activeTimers()
      const shared = createMemorySharedActivity()
      // Hourly checks, as on Workers where timers die: a's request itself tells the others.
      const a = createGate({ serviceQuery, scaleToZero: { checkIntervalMs: 3_600_000, shared } })
      gates.push(a)
      a.finished((await handle(a, get("/function/s"))) as GatePass)
      let recorded = 0
      await until(() => {
        void shared.recordedServices!().then((list) => {
          recorded = list.length
        })
        return recorded === 1
      })
      a.close()
      const events: ScalingEvent[] = []
      const next = (checkIntervalMs: number) => {
        const gate = createGate({
          serviceQuery,
          onEvent: (e) => events.push(e),
          scaleToZero: { checkIntervalMs, shared },
        })
        gates.push(gate)
        return gate
      }
      return { serviceQuery, shared, events, next }
    }

    it("checkIdle scales it down once idle since the others' last use, and once only", async () => {
      const { serviceQuery, shared, events, next } = await servedByAnotherInstance()
      const b = next(3_600_000)
      await b.checkIdle()
      expect(serviceQuery.status("s", NS)?.replicas).toBe(1) // used under 300 ms ago
      await settle(400)
      await b.checkIdle()
      expect(serviceQuery.status("s", NS)?.replicas).toBe(0)
      expect(events.filter((e) => e.type === "scale-down")).toHaveLength(1)
      expect(await shared.recordedServices!()).toEqual([])
      await b.checkIdle()
      expect(serviceQuery.calls.setReplicas).toBe(1)
      expect(events.filter((e) => e.type === "error")).toEqual([])
    })

    it("a new instance's own timer does it, before it serves any request", async () => {
      const { serviceQuery, events, next } = await servedByAnotherInstance()
      next(10)
      await until(() => serviceQuery.status("s", NS)?.replicas === 0)
      expect(events.filter((e) => e.type === "scale-down")).toHaveLength(1)
      expect(serviceQuery.calls.setReplicas).toBe(1)
    })
  })

  describe("checkIdle (a scheduled check, for runtimes whose timers die with the request)", () => {
    // An hour between timer checks: only checkIdle can scale anything down in these tests.
    const hourly = { scaleToZero: { checkIntervalMs: 3_600_000 } }

    it("scales a service idle past its time down once the check settles, and only once", async () => {
      const { gate, serviceQuery, events } = setup(
        { services: { idle: { replicas: 1, labels } } },
        hourly,
      )
      gate.finished((await handle(gate, get("/function/idle"))) as GatePass)
      await settle(100) // past its 60 ms zero-duration
      await gate.checkIdle()
      expect(serviceQuery.status("idle", NS)?.replicas).toBe(0)
      expect(events.filter((e) => e.type === "scale-down")).toHaveLength(1)
      await gate.checkIdle()
      expect(serviceQuery.calls.setReplicas).toBe(1)
    })

    it("leaves a busy service and one used within its idle time alone", async () => {
      const { gate, serviceQuery } = setup(
        {
          services: {
            busy: { replicas: 1, labels },
            recent: { replicas: 1, labels: { ...labels, [ZERO_DURATION_LABEL]: "1h" } },
          },
        },
        hourly,
      )
      const streaming = (await handle(gate, get("/function/busy"))) as GatePass
      gate.finished((await handle(gate, get("/function/recent"))) as GatePass)
      await settle(100)
      await gate.checkIdle()
      expect(serviceQuery.status("busy", NS)?.replicas).toBe(1)
      expect(serviceQuery.status("recent", NS)?.replicas).toBe(1)
      expect(serviceQuery.calls.setReplicas).toBe(0)
      gate.finished(streaming)
    })

    it("settles at once when idle scale-down is off", async () => {
      const { gate, serviceQuery } = setup({ services: { s: { replicas: 1, labels } } })
      await handle(gate, get("/function/s"))
      await gate.checkIdle()
      expect(serviceQuery.calls.setReplicas).toBe(0)
    })
  })

  it("holds requests that arrive during a scale-down and wakes the service after it", async () => {
    const { gate, serviceQuery } = setup({ services: { s: { replicas: 1 } }, startupDelayMs: 10 })
    await handle(gate, get("/function/s"))
    const scaleDown = gate.scaler.scaleDown("s", NS)
    const held = gate.admit(get("/function/s"))
    expect(held.kind).toBe("hold")
    expect(await scaleDown).toBe(true)
    expect((await gate.wait(held as never, new AbortController().signal)).kind).toBe("pass")
    expect(serviceQuery.status("s", NS)?.availableReplicas).toBe(1)
  })
})

describe("options", () => {
  const serviceQuery = { getReplicas: async () => ({}) as never, setReplicas: async () => {} }
  it.each([
    [null, "option options must be an object such as { serviceQuery }, got null"],
    [
      {},
      "option serviceQuery must be a ServiceQuery (an object with getReplicas and setReplicas), got undefined",
    ],
    [
      { serviceQuery, defaultNamespace: "a b" },
      'option defaultNamespace must be a valid namespace name, got "a b"',
    ],
    [
      { serviceQuery, resolve: "/function/" },
      'option resolve must be a function, got "/function/"',
    ],
    [
      { serviceQuery, waitingPage: true },
      "option waitingPage must be false or { afterMs?, refreshSeconds?, render? }, got true",
    ],
    [
      { serviceQuery, maxStaleMs: "1s" },
      'option maxStaleMs must be a non-negative number, got "1s"',
    ],
    [{ serviceQuery, scaleToZero: true }, "option scaleToZero must be an object, got true"],
    [
      { serviceQuery, scaleToZero: { checkIntervalMs: "x" } },
      'option scaleToZero.checkIntervalMs must be a positive number, got "x"',
    ],
    [
      { serviceQuery, scaleToZero: { shared: {} } },
      "option scaleToZero.shared must be a SharedActivity (such as Redis's), got an object",
    ],
    [
      { serviceQuery, scaleToZero: { allServices: "yes" } },
      'option scaleToZero.allServices must be a boolean, got "yes"',
    ],
  ])("refuses %o with a TypeError (ERR_INVALID_OPTION) naming the option", (options, message) => {
    const create = () => createGate(options as never)
    expect(create).toThrow(message)
    expect(create).toThrow(
      expect.objectContaining({ name: "TypeError", code: "ERR_INVALID_OPTION" }),
    )
  })
})

describe("a cached ready status", () => {
  it("passes while fresh, passes and re-reads while stale within maxStaleMs, and is held for a fresh read after", async () => {
    const { gate, serviceQuery } = setup(
      { services: { echo: { replicas: 1 } }, watch: false },
      { cacheExpiry: 40, maxStaleMs: 60 },
    )
    expect(await handle(gate, get("/function/echo/"))).toMatchObject({ kind: "pass" })
    const reads = serviceQuery.calls.getReplicas
    expect(gate.admit(get("/function/echo/"))).toMatchObject({ kind: "pass" })
    expect(serviceQuery.calls.getReplicas).toBe(reads)
    await settle(60)
    // Stale, within maxStaleMs: passes, and the status is re-read in the background.
    expect(gate.admit(get("/function/echo/"))).toMatchObject({ kind: "pass" })
    await until(() => serviceQuery.calls.getReplicas === reads + 1)
    await serviceQuery.setReplicas("echo", NS, 0)
    await settle(120)
    // Older than cacheExpiry + maxStaleMs: not trusted, the request waits for a fresh read.
    const held = gate.admit(get("/function/echo/"))
    expect(held).toMatchObject({ kind: "hold", name: "echo" })
    const woken = await gate.wait(held as never, new AbortController().signal)
    expect(woken).toMatchObject({ kind: "pass" })
    expect((woken as GatePass).coldStartMs).toBeGreaterThanOrEqual(0)
    expect(serviceQuery.calls.setReplicas).toBe(2)
  })
})

describe("rewake", () => {
  it("drops the cached status and holds the request through a fresh wake", async () => {
    const { gate, serviceQuery, events } = setup(
      { services: { echo: { replicas: 1, startupDelayMs: 30 } }, watch: false },
      { cacheExpiry: 60_000 },
    )
    expect(await handle(gate, get("/function/echo/"))).toMatchObject({ kind: "pass" })
    await serviceQuery.setReplicas("echo", NS, 0)
    // The cache still says ready: the gate passes, the upstream refuses, the proxy rewakes.
    expect(gate.admit(get("/function/echo/"))).toMatchObject({ kind: "pass" })
    const again = await gate.rewake(get("/function/echo/x"), new AbortController().signal)
    expect(again).toMatchObject({ kind: "pass" })
    expect((again as GatePass).coldStartMs).toBeGreaterThanOrEqual(25)
    expect(events.map((e) => e.type)).toEqual(["scale-up", "ready"])
    expect(await gate.rewake(get("/healthz"), new AbortController().signal)).toBeUndefined()
    expectReply(
      (await gate.rewake(get("/function/bad%20name/"), new AbortController().signal))!,
      400,
    )
  })
})

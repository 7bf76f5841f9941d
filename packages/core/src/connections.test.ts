import { afterEach, describe, expect, it } from "vitest"
import { activeTimers, settle, until } from "../test/leak-check.js"
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "./constants.js"
import type { ScalingEvent } from "./events.js"
import {
  createGate,
  type Gate,
  type GatePass,
  type GateReply,
  type GateRequest,
  type ScaleFromZeroOptions,
} from "./gate.js"
import { isMonitoringRequest, notMonitoring } from "./monitoring.js"
import {
  createMemoryServiceQuery,
  type MemoryServiceDefinition,
  type MemoryServiceQuery,
} from "./testing/memory-service-query.js"

// Long-lived connections (gate.open, scaleToZero.connectionIdleMs) and who may wake a
// service or keep it awake (wake, keepsAwake, notMonitoring), through the gate itself.

const NS = "openfaas-fn"
const labels = { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: "100ms" }
const request = (path: string, userAgent?: string): GateRequest => ({
  method: "GET",
  path,
  headers: new Headers(userAgent === undefined ? {} : { "user-agent": userAgent }),
})

const cleanups: (() => void)[] = []
let timersBefore = 0
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  await settle(5)
  // Give the test runner's own short-lived timers a moment; a leaked wait or poll stays.
  await until(() => activeTimers() <= timersBefore, 300).catch(() => {})
  expect(activeTimers()).toBeLessThanOrEqual(timersBefore)
})

function setup(
  services: Record<string, MemoryServiceDefinition>,
  options: Omit<ScaleFromZeroOptions, "serviceQuery"> = {},
) {
  timersBefore = activeTimers()
  const serviceQuery = createMemoryServiceQuery({ services })
  const events: ScalingEvent[] = []
  const gate = createGate({ serviceQuery, onEvent: (e) => events.push(e), ...options })
  cleanups.push(() => {
    gate.close()
    serviceQuery.close()
  })
  return { gate, serviceQuery, events }
}

async function handle(gate: Gate, gateRequest: GateRequest) {
  const verdict = gate.admit(gateRequest)
  return verdict.kind === "hold" ? gate.wait(verdict, new AbortController().signal) : verdict
}

const replicas = (serviceQuery: MemoryServiceQuery, name: string) =>
  serviceQuery.status(name, NS)?.replicas

describe("gate.open: a connection counts in flight until it closes", () => {
  it("keeps an open connection's service up, and scales it down once after it closes", async () => {
    const { gate, serviceQuery, events } = setup(
      { ws: { replicas: 1, labels } },
      { scaleToZero: { checkIntervalMs: 10 } },
    )
    const pass = (await handle(gate, request("/function/ws"))) as GatePass
    const close = gate.open(pass, { bytesRead: 0, bytesWritten: 0 })
    await settle(300)
    expect(replicas(serviceQuery, "ws")).toBe(1)
    close()
    close() // a second close counts nothing more
    await until(() => replicas(serviceQuery, "ws") === 0)
    await settle(150)
    expect(events.filter((e) => e.type === "scale-down")).toHaveLength(1)
  })

  it("is a no-op for an untracked pass", async () => {
    const { gate } = setup({ plain: { replicas: 1 } })
    const pass = (await handle(gate, request("/function/plain"))) as GatePass
    expect(pass.inFlight).toBeUndefined()
    expect(() => gate.open(pass, { bytesRead: 0, bytesWritten: 0 })()).not.toThrow()
  })
})

describe("scaleToZero.connectionIdleMs", () => {
  it("stops counting a connection with no traffic that long", async () => {
    const { gate, serviceQuery } = setup(
      { quiet: { replicas: 1, labels: { ...labels, [ZERO_DURATION_LABEL]: "150ms" } } },
      { scaleToZero: { checkIntervalMs: 10, connectionIdleMs: 200 } },
    )
    const traffic = { bytesRead: 0, bytesWritten: 0 }
    const pass = (await handle(gate, request("/function/quiet"))) as GatePass
    const close = gate.open(pass, traffic)
    // Busy: a frame each 50 ms keeps it counted far past both idle times.
    for (let i = 0; i < 10; i++) {
      await settle(50)
      traffic.bytesRead += 6
      traffic.bytesWritten += 6
    }
    expect(replicas(serviceQuery, "quiet")).toBe(1)
    // Quiet: it stops counting 200 ms after its last frame, and the service idles 150 ms later.
    await until(() => replicas(serviceQuery, "quiet") === 0)
    close()
  })

  it("counts a quiet connection again on its next byte, and keeps a busy one counted", async () => {
    const { gate, serviceQuery } = setup(
      { busy: { replicas: 1, labels: { ...labels, [ZERO_DURATION_LABEL]: "400ms" } } },
      { scaleToZero: { checkIntervalMs: 10, connectionIdleMs: 100 } },
    )
    const traffic = { bytesRead: 0, bytesWritten: 0 }
    const pass = (await handle(gate, request("/function/busy"))) as GatePass
    const close = gate.open(pass, traffic)
    await settle(200) // quiet: no longer counted
    traffic.bytesWritten++ // a byte: counted again before the 400 ms of service idle ran out
    for (let i = 0; i < 8; i++) {
      await settle(40)
      traffic.bytesWritten++
    }
    expect(replicas(serviceQuery, "busy")).toBe(1)
    close()
    await until(() => replicas(serviceQuery, "busy") === 0)
  })

  it("is checked like every option", () => {
    const serviceQuery = createMemoryServiceQuery({ services: {} })
    cleanups.push(() => serviceQuery.close())
    timersBefore = activeTimers()
    expect(() => createGate({ serviceQuery, scaleToZero: { connectionIdleMs: -1 } })).toThrow(
      "option scaleToZero.connectionIdleMs must be a positive number, got -1",
    )
    expect(() => createGate({ serviceQuery, wake: "no" as never })).toThrow(
      'option wake must be a function, got "no"',
    )
    expect(() => createGate({ serviceQuery, keepsAwake: 1 as never })).toThrow(
      "option keepsAwake must be a function, got 1",
    )
  })
})

describe("wake: who may start a service", () => {
  const noProbes = { wake: notMonitoring, keepsAwake: notMonitoring }

  it("answers a kube-probe to a cold service 503 asleep with Retry-After, starting nothing", async () => {
    const { gate, serviceQuery } = setup({ cold: {} }, { ...noProbes, retryAfter: 5 })
    for (let i = 0; i < 3; i++) {
      const reply = (await handle(
        gate,
        request("/function/cold/healthz", "kube-probe/1.30"),
      )) as GateReply
      expect(reply.status).toBe(503)
      expect(reply.headers["retry-after"]).toBe("5")
      expect(reply.body).toBe("service cold.openfaas-fn is asleep: this request does not wake it")
    }
    expect(serviceQuery.calls.setReplicas).toBe(0)
    expect(replicas(serviceQuery, "cold")).toBe(0)
    // A user's request still wakes it, and then the probe passes.
    expect((await handle(gate, request("/function/cold/"))).kind).toBe("pass")
    expect((await handle(gate, request("/function/cold/healthz", "kube-probe/1.30"))).kind).toBe(
      "pass",
    )
  })

  it("passes a monitor to a ready service the gate has not seen yet, after one status read", async () => {
    const { gate, serviceQuery } = setup({ up: { replicas: 1 } }, noProbes)
    const verdict = await handle(gate, request("/function/up", "ELB-HealthChecker/2.0"))
    expect(verdict.kind).toBe("pass")
    expect(serviceQuery.calls).toMatchObject({ getReplicas: 1, setReplicas: 0 })
  })

  it("answers 404 for an unknown service and 502 for a failing backend, without waking", async () => {
    const { gate, serviceQuery } = setup({}, noProbes)
    const missing = (await handle(gate, request("/function/nope", "GoogleHC/1.0"))) as GateReply
    expect(missing.status).toBe(404)
    serviceQuery.failWith(new Error("backend down"))
    const failed = (await handle(gate, request("/function/other", "GoogleHC/1.0"))) as GateReply
    expect(failed.status).toBe(502)
    expect(failed.body).toContain("backend down")
    expect(serviceQuery.calls.setReplicas).toBe(0)
  })
})

describe("keepsAwake: who keeps a service up", () => {
  it("scales down a warm service an uptime monitor polls every 100 ms", async () => {
    const { gate, serviceQuery, events } = setup(
      { polled: { replicas: 1, labels: { ...labels, [ZERO_DURATION_LABEL]: "300ms" } } },
      { wake: notMonitoring, keepsAwake: notMonitoring, scaleToZero: { checkIntervalMs: 20 } },
    )
    // One real request starts idle tracking, as it would in production.
    gate.finished((await handle(gate, request("/function/polled"))) as GatePass)
    const monitor = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
    const answers: string[] = []
    const started = Date.now()
    while (Date.now() - started < 1000) {
      const verdict = await handle(gate, request("/function/polled/health", monitor))
      answers.push(verdict.kind === "pass" ? "pass" : String((verdict as GateReply).status))
      if (verdict.kind === "pass") expect(verdict.inFlight).toBeUndefined()
      await settle(100)
    }
    expect(events.filter((e) => e.type === "scale-down")).toHaveLength(1)
    expect(replicas(serviceQuery, "polled")).toBe(0)
    // Passed while up, then asleep: the monitor never woke it again.
    expect(answers[0]).toBe("pass")
    expect(answers.at(-1)).toBe("503")
    expect(serviceQuery.calls.setReplicas).toBe(1)
  })

  it("still counts everyone else", async () => {
    const { gate, serviceQuery } = setup(
      { busy: { replicas: 1, labels } },
      { keepsAwake: notMonitoring, scaleToZero: { checkIntervalMs: 10 } },
    )
    const pass = (await handle(gate, request("/function/busy", "curl/8.5"))) as GatePass
    expect(pass.inFlight).toBeDefined()
    await settle(250)
    expect(replicas(serviceQuery, "busy")).toBe(1)
    gate.finished(pass)
  })
})

describe("isMonitoringRequest", () => {
  it.each([
    "kube-probe/1.30",
    "ELB-HealthChecker/2.0",
    "GoogleHC/1.0",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Better Stack Better Uptime Bot Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "Blackbox Exporter/0.25.0",
  ])("recognises %s", (userAgent) => {
    expect(isMonitoringRequest(request("/", userAgent))).toBe(true)
  })

  it.each([
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
  ])("lets %s through", (userAgent) => {
    expect(isMonitoringRequest(request("/", userAgent))).toBe(false)
  })

  it("lets a request without a User-Agent through", () => {
    expect(isMonitoringRequest(request("/"))).toBe(false)
  })
})

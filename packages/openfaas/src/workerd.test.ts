import {
  type FaasProviderSimulator,
  startFaasProviderSimulator,
} from "@scale-from-zero/test-kit/faas-provider-simulator"
import {
  bundleWorker,
  startWorkerd,
  WORKER_COMPATIBILITY,
  workerdSkipReason,
} from "@scale-from-zero/test-kit/workerd"
import type { Miniflare } from "miniflare"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/**
 * The provider inside workerd (through miniflare), behind the Hono adapter, against the
 * simulator on 127.0.0.1.
 */
describe.skipIf(workerdSkipReason !== undefined)("in workerd (miniflare)", () => {
  const credentials = { user: "admin", password: "edge-secret" }
  let simulator: FaasProviderSimulator
  let worker: Miniflare

  beforeAll(async () => {
    simulator = await startFaasProviderSimulator({ basicAuth: credentials, startupDelayMs: 200 })
    simulator.addFunction("figlet", "openfaas-fn")
    simulator.addFunction("env", "team-a")
    simulator.addFunction("locked", "openfaas-fn")
    worker = await startWorkerd({
      modules: true,
      script: await bundleWorker("../test/hono-edge-worker.ts", import.meta.url),
      ...WORKER_COMPATIBILITY,
      bindings: {
        PROVIDER_URL: simulator.url,
        PROVIDER_USER: credentials.user,
        PROVIDER_PASSWORD: credentials.password,
      },
    })
  })

  afterAll(async () => {
    await worker?.dispose()
    await simulator?.close()
  })

  it("holds a request for a function at zero, scales it through the provider API and forwards it", async () => {
    const start = performance.now()
    const response = await worker.dispatchFetch("http://gateway/function/figlet/hello?x=1")
    const elapsed = performance.now() - start
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("hello from figlet.openfaas-fn (/function/figlet/hello?x=1)")
    expect(response.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
    expect(elapsed).toBeGreaterThanOrEqual(200) // the simulated start-up delay
    expect(simulator.counters).toMatchObject({ scale: 1, invoke: 1, unauthorized: 0 })
    expect(simulator.status("figlet", "openfaas-fn")).toEqual({ replicas: 1, availableReplicas: 1 })

    const warm = await worker.dispatchFetch("http://gateway/function/figlet")
    expect(warm.status).toBe(200)
    expect(warm.headers.get("server-timing")).toBeNull()
    expect(simulator.counters.scale).toBe(1)
  })

  it("wakes a function once for concurrent requests and forwards each body", async () => {
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        worker.dispatchFetch("http://gateway/function/env.team-a", {
          method: "POST",
          body: `request ${i}`,
        }),
      ),
    )
    const bodies = await Promise.all(responses.map((response) => response.text()))
    expect(responses.map((response) => response.status)).toEqual(Array(6).fill(200))
    expect(bodies).toEqual(
      Array.from(
        { length: 6 },
        (_, i) => `hello from env.team-a (/function/env.team-a): request ${i}`,
      ),
    )
    expect(simulator.counters.scale).toBe(2)
  })

  it("answers 404 for a function the provider does not know", async () => {
    const response = await worker.dispatchFetch("http://gateway/function/nope")
    expect(response.status).toBe(404)
    expect(await response.text()).toContain("error finding function nope.openfaas-fn")
  })

  it("answers 502 when the provider fails, without forwarding", async () => {
    simulator.injectFault({ status: 500, body: "etcd unavailable" })
    const invoked = simulator.counters.invoke
    const response = await worker.dispatchFetch("http://gateway/function/locked")
    expect(response.status).toBe(502)
    expect(simulator.counters.invoke).toBe(invoked)
  })
})

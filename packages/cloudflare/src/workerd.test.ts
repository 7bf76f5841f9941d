import { randomBytes } from "node:crypto"
import type { SharedActivity } from "@scale-from-zero/core"
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "@scale-from-zero/core"
import {
  type FaasProviderSimulator,
  startFaasProviderSimulator,
} from "@scale-from-zero/test-kit/faas-provider-simulator"
import { runSharedActivityContract } from "@scale-from-zero/test-kit/shared-activity-contract"
import {
  bundleWorker,
  startWorkerd,
  WORKER_COMPATIBILITY,
  workerdSkipReason,
} from "@scale-from-zero/test-kit/workerd"
import type { Miniflare } from "miniflare"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

// Real Durable Objects in workerd, through miniflare: three gateway Workers (three isolates)
// share one coordinating object per service, against the faas-provider simulator on 127.0.0.1.
const NS = "openfaas-fn"
/** The test worker's functionPollInterval and the coordinator's statusCacheMs. */
const POLL_MS = 25
const GATEWAYS = ["a", "b", "c"] as const
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(workerdSkipReason !== undefined)("in workerd (miniflare)", () => {
  let simulator: FaasProviderSimulator
  let mf: Miniflare

  beforeAll(async () => {
    simulator = await startFaasProviderSimulator({ startupDelayMs: 500 })
    const script = await bundleWorker("../test/worker.ts", import.meta.url)
    const worker = (name: string, mode: "shared" | "direct") => ({
      name,
      modules: true,
      script,
      ...WORKER_COMPATIBILITY,
      bindings: { MODE: mode, PROVIDER_URL: simulator.url },
      // Worker "a" defines the coordinator class; every Worker binds the same objects.
      durableObjects: {
        COORDINATOR:
          name === "a" ? "TestCoordinator" : { className: "TestCoordinator", scriptName: "a" },
      },
    })
    mf = await startWorkerd({
      workers: [...GATEWAYS.map((name) => worker(name, "shared")), worker("solo", "direct")],
    })
  }, 60_000)

  afterAll(async () => {
    await mf?.dispose()
    await simulator?.close()
  })

  /**
   * One gateway Worker's fetch() and scheduled(); miniflare types them from
   * @cloudflare/workers-types, not installed here.
   */
  const gatewayWorker = async (gateway: string) =>
    (await mf.getWorker(gateway)) as unknown as {
      fetch(url: string, init?: RequestInit): Promise<Response>
      scheduled(options: { cron: string }): Promise<{ outcome: string }>
    }

  const send = async (gateway: string, path: string, init?: RequestInit) =>
    (await gatewayWorker(gateway)).fetch(`http://gateway${path}`, init)

  /** The shared activity as one gateway Worker holds it, called through that Worker. */
  const handle = (gateway: string, prefix: string): SharedActivity => {
    const call = async (method: keyof SharedActivity, args: unknown[]) => {
      const response = await send(gateway, `/activity/${gateway}`, {
        method: "POST",
        body: JSON.stringify({ prefix, method, args }),
      })
      expect(response.status).toBe(200)
      return ((await response.json()) as { result: unknown }).result
    }
    return {
      record: async (...args) => void (await call("record", args)),
      lastActive: async (...args) =>
        ((await call("lastActive", args)) as number | null) ?? undefined,
      claimScaleDown: async (...args) => (await call("claimScaleDown", args)) as boolean,
      recordedServices: async () =>
        (await call("recordedServices", [])) as Array<{ name: string; namespace: string }>,
    }
  }

  // Two gateway Workers (two isolates) on one set of objects; a fresh prefix per test.
  runSharedActivityContract("Durable Objects in workerd", () => {
    const prefix = `contract-${randomBytes(4).toString("hex")}:`
    return { instances: [handle("a", prefix), handle("b", prefix)] }
  })

  /** The provider's calls for one function: scale-ups, and status reads with the span they cover. */
  const backendCalls = (name: string) => {
    const of = simulator.requests.filter(
      (r) => r.target.includes(`/${name}?`) || r.target.endsWith(`/${name}`),
    )
    const reads = of.filter((r) => r.method === "GET" && r.target.startsWith("/system/function/"))
    return {
      reads: reads.length,
      readSpanMs: reads.length === 0 ? 0 : reads.at(-1)!.at - reads[0]!.at,
      scales: of.filter((r) => r.target.startsWith("/system/scale-function/")).length,
    }
  }

  /** 300 cold requests, spread over the given Workers: every status. */
  const coldBurst = async (gateways: readonly string[], name: string) => {
    const responses = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        send(gateways[i % gateways.length]!, `/function/${name}/${i}`),
      ),
    )
    await Promise.all(responses.map((response) => response.arrayBuffer()))
    return { statuses: responses.map((response) => response.status) }
  }

  /**
   * One isolate polls every POLL_MS (the worker's functionPollInterval), each poll after the
   * last answer: at most one read per POLL_MS between its first read and its last, plus one. The object answers
   * from a status younger than POLL_MS (its statusCacheMs): the same bound for any number of
   * isolates. Three isolates polling the provider each would read about three times as often.
   */
  const oneIsolateBound = (spanMs: number) => Math.floor(spanMs / POLL_MS) + 1

  it("wakes a service once for 300 cold requests over three isolates, reading the backend as one isolate does, and scales it down once", async () => {
    const labels = { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: "500ms" }
    simulator.addFunction("alone", NS, { labels })
    simulator.addFunction("together", NS, { labels })

    // The baseline: one isolate, asking the provider itself.
    const solo = await coldBurst(["solo"], "alone")
    expect(solo.statuses).toEqual(Array(300).fill(200))
    const alone = backendCalls("alone")
    expect(alone.scales).toBe(1)
    expect(alone.reads).toBeLessThanOrEqual(oneIsolateBound(alone.readSpanMs))

    const spread = await coldBurst(GATEWAYS, "together")
    expect(spread.statuses).toEqual(Array(300).fill(200))
    const together = backendCalls("together")
    expect(together.scales).toBe(1)
    expect(together.reads).toBeLessThanOrEqual(oneIsolateBound(together.readSpanMs))
    console.log(
      `status reads for one wake: 1 isolate ${alone.reads} over ${Math.round(alone.readSpanMs)} ms, ` +
        `3 isolates sharing an object ${together.reads} over ${Math.round(together.readSpanMs)} ms`,
    )

    // Idle past its 500 ms on every isolate: a scheduled event in each, one scale-down in all.
    await settle(800)
    const outcomes = await Promise.all(
      GATEWAYS.map(
        async (gateway) =>
          (await (await gatewayWorker(gateway)).scheduled({ cron: "* * * * *" })).outcome,
      ),
    )
    expect(outcomes).toEqual(["ok", "ok", "ok"])
    expect(backendCalls("together").scales).toBe(2)
    expect(simulator.status("together", NS)).toEqual({ replicas: 0, availableReplicas: 0 })
  })

  it("keeps activity and the scale-down claim through a restart of the object, and wakes services after it", async () => {
    simulator.addFunction("restarted", NS)
    const [a, b] = [handle("a", ""), handle("b", "")]
    const at = Date.now()
    await a.record("restarted", NS, at)
    expect(await a.claimScaleDown("restarted", NS, 60_000)).toBe(true)

    const restart = await send("a", `/__restart?name=restarted&namespace=${NS}`)
    expect(await restart.text()).toContain("restarted by the test")

    expect(await b.lastActive("restarted", NS)).toBe(at)
    expect(await b.claimScaleDown("restarted", NS, 60_000)).toBe(false)
    const woken = await send("b", "/function/restarted/after")
    expect(woken.status).toBe(200)
    await woken.arrayBuffer()
    expect(backendCalls("restarted").scales).toBe(1)
  })

  it("scales down a service only an evicted isolate served, from another isolate's scheduled check", async () => {
    const labels = { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: "500ms" }
    simulator.addFunction("orphan", NS, { labels })
    // Isolate "a" serves it once and is never asked again (as if evicted).
    const response = await send("a", "/function/orphan/x")
    expect(response.status).toBe(200)
    await response.arrayBuffer()
    expect(backendCalls("orphan").scales).toBe(1)

    const check = async () =>
      (await (await gatewayWorker("b")).scheduled({ cron: "* * * * *" })).outcome
    // "b" never served it; used under 500 ms ago, it stays up.
    expect(await check()).toBe("ok")
    expect(simulator.status("orphan", NS)).toEqual({ replicas: 1, availableReplicas: 1 })
    await settle(800)
    expect(await check()).toBe("ok")
    expect(backendCalls("orphan").scales).toBe(2)
    expect(simulator.status("orphan", NS)).toEqual({ replicas: 0, availableReplicas: 0 })
    // Scaled down: off the list, nothing more to do.
    expect(await check()).toBe("ok")
    expect(backendCalls("orphan").scales).toBe(2)
  })
})

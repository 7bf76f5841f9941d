import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { DEFAULT_NAMESPACE, type ScaleOutOptions, type ScalingEvent } from "@scale-from-zero/core"
import {
  createMemoryServiceQuery,
  type MemoryServiceDefinition,
} from "@scale-from-zero/core/testing"
import express from "express"
import { afterEach, expect, it } from "vitest"
import { scaleFromZero } from "./index.js"

const NS = DEFAULT_NAMESPACE
const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

/**
 * A real Express gateway on a port, on the in-memory backend (a double: it starts replicas at
 * once), whose upstream answers only when `release()` is called: its requests stay in flight.
 */
async function gateway(service: MemoryServiceDefinition, scaleOut: ScaleOutOptions) {
  const serviceQuery = createMemoryServiceQuery({ services: { work: service } })
  const events: (ScalingEvent & { at: number })[] = []
  const middleware = scaleFromZero({
    serviceQuery,
    scaleOut,
    onEvent: (event) => events.push({ ...event, at: Date.now() }),
  })
  let release = () => {}
  let released = new Promise<void>((resolve) => {
    release = resolve
  })
  const app = express()
  app.use(middleware)
  app.use((request, response) => {
    if (request.url.endsWith("?now")) response.end("done")
    else void released.then(() => response.end("done"))
  })
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening))
  })
  cleanups.push(() => {
    release()
    server.close()
    middleware.close()
    serviceQuery.close()
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/function/work/`
  return {
    serviceQuery,
    events,
    replicas: () => serviceQuery.status("work", NS)?.replicas,
    /** `count` concurrent requests, in flight until `finish()` when `held`. */
    load(count: number, held = true) {
      const target = held ? url : `${url}?now`
      return Promise.all(Array.from({ length: count }, () => fetch(target).then((r) => r.text())))
    },
    finish() {
      release()
      released = new Promise<void>((resolve) => {
        release = resolve
      })
    },
  }
}

const steps = (events: ScalingEvent[], type: "scale-out" | "scale-in") =>
  events.flatMap((event) => (event.type === type ? [[event.from, event.replicas]] : []))

it("steps replicas to ceil(requests / target) by the seed's step, from the live count, and in only after the window", async () => {
  const scaleInAfterMs = 800
  // Step: ceil(10 × 20 / 100) = 2 replicas per interval.
  const gw = await gateway(
    { replicas: 1, maxReplicas: 10, scalingFactor: 20 },
    { targetConcurrency: 2, intervalMs: 50, scaleInAfterMs },
  )
  await gw.load(1, false)
  // An operator scales to 2 outside the gateway, which still has 1 cached.
  await gw.serviceQuery.setReplicas("work", NS, 2)

  const answers = gw.load(12)
  // 12 in flight / 2 = 6: from the operator's 2 (re-read), not the cached 1.
  await expect.poll(gw.replicas, { timeout: 5_000 }).toBe(6)
  // [2, 4], [4, 6] when all 12 arrive within one interval; on a loaded machine the first step
  // may see fewer in flight: each step is still at most the seed's 2, from the live count.
  const outSteps = steps(gw.events, "scale-out")
  expect(outSteps[0]?.[0]).toBe(2)
  expect(outSteps.at(-1)?.[1]).toBe(6)
  for (const [from, to] of outSteps) expect(to! - from!).toBeGreaterThan(0)
  for (const [from, to] of outSteps) expect(to! - from!).toBeLessThanOrEqual(2)
  expect(gw.events.findLast((event) => event.type === "scale-out")).toMatchObject({
    concurrency: 12,
  })

  const releasedAt = Date.now()
  gw.finish()
  expect(await answers).toHaveLength(12)
  // Back to the minimum (1), one step per interval, the first only after the window.
  await expect.poll(gw.replicas, { timeout: 5_000 }).toBe(1)
  expect(steps(gw.events, "scale-in")).toEqual([
    [6, 4],
    [4, 2],
    [2, 1],
  ])
  const firstIn = gw.events.find((event) => event.type === "scale-in")!
  expect(firstIn.at - releasedAt).toBeGreaterThanOrEqual(scaleInAfterMs)
})

it("stays within the min and max labels, and never scales in below the minimum", async () => {
  const gw = await gateway(
    { replicas: 2, minReplicas: 2, maxReplicas: 4, scalingFactor: 50 },
    { targetConcurrency: 1, intervalMs: 50, scaleInAfterMs: 100 },
  )
  const answers = gw.load(20)
  await expect.poll(gw.replicas, { timeout: 5_000 }).toBe(4)
  gw.finish()
  await answers
  await expect.poll(gw.replicas, { timeout: 5_000 }).toBe(2)
  // Ten more intervals with nothing in flight: the minimum holds.
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(gw.replicas()).toBe(2)
  expect(steps(gw.events, "scale-out")).toEqual([[2, 4]])
  expect(steps(gw.events, "scale-in")).toEqual([[4, 2]])
})

it("leaves a service with a scaling factor of 0 alone, as OpenFaaS does", async () => {
  const gw = await gateway(
    { replicas: 1, scalingFactor: 0 },
    { targetConcurrency: 1, intervalMs: 20, scaleInAfterMs: 0 },
  )
  const answers = gw.load(5)
  await new Promise((resolve) => setTimeout(resolve, 300))
  expect(gw.replicas()).toBe(1)
  gw.finish()
  await answers
  expect(steps(gw.events, "scale-out")).toEqual([])
})

it("rejects bad scaleOut options with the option's name", () => {
  const serviceQuery = createMemoryServiceQuery()
  cleanups.push(() => serviceQuery.close())
  expect(() => scaleFromZero({ serviceQuery, scaleOut: {} as ScaleOutOptions })).toThrow(
    "option scaleOut.targetConcurrency must be a positive number, got undefined",
  )
  expect(() => scaleFromZero({ serviceQuery, scaleOut: { targetConcurrency: 0 } })).toThrow(
    "option scaleOut.targetConcurrency must be a positive number, got 0",
  )
  expect(() =>
    scaleFromZero({ serviceQuery, scaleOut: { targetConcurrency: 1, intervalMs: -1 } }),
  ).toThrow("option scaleOut.intervalMs must be a positive number, got -1")
})

import { describe, expect, it } from "vitest"
import { settle } from "../../test/leak-check.js"
import { ServiceNotFoundError } from "../errors.js"
import type { ServiceQueryResponse } from "../types.js"
import { createMemoryServiceQuery } from "./memory-service-query.js"

describe("createMemoryServiceQuery", () => {
  it("starts services at zero with the upstream defaults", async () => {
    const query = createMemoryServiceQuery({
      services: { echo: {}, "api.prod": { minReplicas: 2 } },
    })
    expect(await query.getReplicas("echo", "openfaas-fn")).toEqual({
      replicas: 0,
      availableReplicas: 0,
      minReplicas: 1,
      maxReplicas: 5,
      scalingFactor: 10,
    })
    expect((await query.getReplicas("api", "prod")).minReplicas).toBe(2)
  })

  it("makes replicas available after the start-up delay, and pushes each change to watchers", async () => {
    const query = createMemoryServiceQuery({ services: { echo: {} }, startupDelayMs: 20 })
    const seen: ServiceQueryResponse[] = []
    const watching = new AbortController()
    query.watch?.("echo", "openfaas-fn", (r) => seen.push(r), { signal: watching.signal })
    await query.setReplicas("echo", "openfaas-fn", 2)
    expect((await query.getReplicas("echo", "openfaas-fn")).availableReplicas).toBe(0)
    await settle(30)
    expect((await query.getReplicas("echo", "openfaas-fn")).availableReplicas).toBe(2)
    expect(seen.map((r) => [r.replicas, r.availableReplicas])).toEqual([
      [2, 0],
      [2, 2],
    ])
    watching.abort()
    expect(query.activeWatches).toBe(0)
    await query.setReplicas("echo", "openfaas-fn", 0)
    expect(seen).toHaveLength(2)
  })

  it("offers no watch when asked not to", () => {
    expect(createMemoryServiceQuery({ watch: false }).watch).toBeUndefined()
  })

  it("throws ServiceNotFoundError for an unknown service and honours aborted signals", async () => {
    const query = createMemoryServiceQuery({ services: { echo: {} } })
    await expect(query.getReplicas("nope", "openfaas-fn")).rejects.toBeInstanceOf(
      ServiceNotFoundError,
    )
    await expect(
      query.getReplicas("echo", "openfaas-fn", { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ name: "AbortError" })
    await expect(query.setReplicas("echo", "openfaas-fn", -1)).rejects.toBeInstanceOf(RangeError)
  })

  it("hands out copies, so callers cannot change its state", async () => {
    const query = createMemoryServiceQuery({ services: { echo: { labels: { a: "1" } } } })
    const first = await query.getReplicas("echo", "openfaas-fn")
    first.replicas = 99
    if (first.labels) first.labels.a = "2"
    expect(await query.getReplicas("echo", "openfaas-fn")).toMatchObject({
      replicas: 0,
      labels: { a: "1" },
    })
  })
})

import { describe, expect, it } from "vitest"
import { createCachedFunctionQuery } from "./cached-function-query.js"
import { createFunctionCache } from "./function-cache.js"
import { createMemoryServiceQuery } from "./testing/memory-service-query.js"

describe("createCachedFunctionQuery", () => {
  it("asks the backend on a miss and answers from the cache on a hit", async () => {
    const backend = createMemoryServiceQuery({ services: { figlet: { replicas: 1 } } })
    const query = createCachedFunctionQuery(createFunctionCache(60_000), backend)
    expect((await query.get("figlet", "openfaas-fn")).availableReplicas).toBe(1)
    expect((await query.get("figlet", "openfaas-fn")).availableReplicas).toBe(1)
    expect(backend.calls.getReplicas).toBe(1)
  })

  it("gives annotations, and {} for a service without any", async () => {
    const backend = createMemoryServiceQuery({
      services: { a: { annotations: { topic: "orders" } }, b: {} },
    })
    const query = createCachedFunctionQuery(createFunctionCache(60_000), backend)
    expect(await query.getAnnotations("a", "openfaas-fn")).toEqual({ topic: "orders" })
    expect(await query.getAnnotations("b", "openfaas-fn")).toEqual({})
  })

  it("passes the backend's not-found error on", async () => {
    const query = createCachedFunctionQuery(createFunctionCache(100), createMemoryServiceQuery())
    await expect(query.get("nope", "openfaas-fn")).rejects.toMatchObject({
      name: "ServiceNotFoundError",
    })
  })
})

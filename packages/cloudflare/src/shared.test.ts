import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import { describe, expect, it } from "vitest"
import {
  CoordinatorError,
  createCoordinator,
  createDurableObjectServiceQuery,
  createDurableObjectSharedActivity,
  type DurableObjectNamespaceLike,
} from "./index.js"

// The clients' own rules, with a stand-in namespace whose stub is the coordinator class itself
// (in Node, over an in-memory storage). workerd runs the real thing in workerd.test.ts.
function inProcessNamespace(fetchOverride?: () => Promise<Response>): DurableObjectNamespaceLike {
  const Coordinator = createCoordinator(() =>
    createMemoryServiceQuery({ services: { known: { replicas: 1 } } }),
  )
  const objects = new Map<string, InstanceType<typeof Coordinator>>()
  return {
    idFromName: (name) => name,
    get: (id) => ({
      async fetch(input, init) {
        if (fetchOverride) return fetchOverride()
        const key = id as unknown as string
        let object = objects.get(key)
        if (object === undefined) {
          const data = new Map<string, unknown>()
          const storage = {
            get: async <T>(k: string) => data.get(k) as T | undefined,
            put: async <T>(k: string, v: T) => void data.set(k, v),
            delete: async (k: string) => data.delete(k),
            list: async <T>({ prefix }: { prefix: string }) =>
              new Map([...data].filter(([k]) => k.startsWith(prefix)) as [string, T][]),
          }
          object = new Coordinator({ storage }, {})
          objects.set(key, object)
        }
        return object.fetch(new Request(input, init))
      },
    }),
  }
}

describe("options", () => {
  it("names the option it rejects", () => {
    expect(() => createDurableObjectSharedActivity({ namespace: {} as never })).toThrow(
      "option namespace must be a Durable Object namespace binding, got an object",
    )
    const namespace = inProcessNamespace()
    expect(() => createDurableObjectServiceQuery({ namespace, timeoutMs: 0 })).toThrow(
      /option timeoutMs must be a positive number, got 0/,
    )
    expect(() =>
      createDurableObjectServiceQuery({ namespace, objectNamePrefix: 1 as never }),
    ).toThrow("option objectNamePrefix must be a string, got 1")
    expect(() => createCoordinator("nope" as never)).toThrow(/option serviceQueryFor must be/)
    expect(() =>
      createCoordinator(() => createMemoryServiceQuery(), { statusCacheMs: -1 }),
    ).toThrow(/option statusCacheMs must be/)
  })
})

describe("errors", () => {
  it("carries the backend's not-found as core's ServiceNotFoundError", async () => {
    const query = createDurableObjectServiceQuery({ namespace: inProcessNamespace() })
    expect((await query.getReplicas("known", "openfaas-fn")).availableReplicas).toBe(1)
    await expect(query.getReplicas("missing", "openfaas-fn")).rejects.toMatchObject({
      code: "ERR_SERVICE_NOT_FOUND",
      service: "missing",
      namespace: "openfaas-fn",
    })
  })

  it("gives up on an object that does not answer within timeoutMs, with a CoordinatorError", async () => {
    const silent = inProcessNamespace(() => new Promise<Response>(() => {}))
    const activity = createDurableObjectSharedActivity({ namespace: silent, timeoutMs: 30 })
    const error = await activity.lastActive("s", "ns").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CoordinatorError)
    expect(error).toMatchObject({
      code: "ERR_BACKEND",
      message: "coordinator: lastActive(s.ns): no answer within 30ms",
    })
  })

  it("rejects at once with the reason of a signal already aborted, asking nothing", async () => {
    let asked = 0
    const namespace = inProcessNamespace(async () => {
      asked++
      return new Promise<Response>(() => {})
    })
    const query = createDurableObjectServiceQuery({ namespace })
    const reason = new Error("client gone")
    await expect(
      query.setReplicas("s", "ns", 1, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason)
    expect(asked).toBe(0)
  })
})

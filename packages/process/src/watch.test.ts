import { ServiceNotFoundError, type ServiceQueryResponse } from "@scale-from-zero/core"
import { describe, expect, it } from "vitest"
import { closingQueries, eventually, serverService, until } from "../test/helpers.js"

const { start } = closingQueries()
const ns = "default"

describe("watch (the provider kit, fed by the query's own changes)", () => {
  it("counts only replicas whose probe passes, and pushes each change through watch", async () => {
    const { query, events } = start({
      services: {
        hello: serverService(
          {},
          {
            readiness: {
              httpPath: "/healthz",
              intervalMs: 20,
              readyIntervalMs: 20,
              failureThreshold: 2,
            },
          },
        ),
      },
    })
    const seen: ServiceQueryResponse[] = []
    const subscription = new AbortController()
    query.watch("hello", ns, (status) => seen.push(status), { signal: subscription.signal })

    await query.setReplicas("hello", ns, 1)
    await eventually("ready", () => (seen.at(-1)?.availableReplicas === 1 ? true : undefined))
    const url = query.endpoint("hello")!

    // The replica still runs but its health check fails: it leaves availableReplicas.
    await fetch(`${url}/sick`)
    await eventually("unready", () => (seen.at(-1)?.availableReplicas === 0 ? true : undefined))
    expect(query.status("hello").processes[0]?.state).toBe("unready")
    expect(query.endpoint("hello")).toBeUndefined()
    expect(events.some((e) => e.type === "unready")).toBe(true)

    await fetch(`${url}/well`)
    await eventually("ready again", () => (seen.at(-1)?.availableReplicas === 1 ? true : undefined))

    await query.setReplicas("hello", ns, 0)
    await eventually("down", () => (seen.at(-1)?.replicas === 0 ? true : undefined))
    expect(seen.map((s) => [s.replicas, s.availableReplicas])).toEqual([
      [1, 0],
      [1, 1],
      [1, 0],
      [1, 1],
      [0, 1],
      [0, 0],
    ])

    subscription.abort()
    await query.setReplicas("hello", ns, 1)
    await until(query, "hello", (status) => status.availableReplicas === 1)
    expect(seen).toHaveLength(6)
  })

  it("tells a service's watchers through onError, and onWatchError, once it is removed", async () => {
    const reported: [Error, unknown][] = []
    const { query } = start({
      services: { hello: serverService({}, { replicas: 1 }) },
      onWatchError: (error, context) => reported.push([error, context]),
    })
    await until(query, "hello", (status) => status.availableReplicas === 1)
    const errors: Error[] = []
    const subscription = new AbortController()
    query.watch("hello", ns, () => {}, {
      signal: subscription.signal,
      onError: (error) => errors.push(error),
    })
    await query.removeService("hello", ns)
    await eventually("onError", () => (errors.length > 0 ? true : undefined))
    expect(errors[0]).toBeInstanceOf(ServiceNotFoundError)
    expect(reported).toEqual([[errors[0], { namespace: ns, service: "hello", source: "read" }]])
    subscription.abort()
    expect(query.activeWatches).toBe(0)
  })

  it("reports a watcher that throws as an error event and keeps serving the others", async () => {
    const reported: unknown[] = []
    const { query, events } = start({
      services: { hello: serverService() },
      onWatchError: (_error, context) => reported.push(context),
    })
    const subscription = new AbortController()
    query.watch(
      "hello",
      ns,
      () => {
        throw new Error("a broken watcher")
      },
      { signal: subscription.signal },
    )
    try {
      await query.setReplicas("hello", ns, 1)
      await until(query, "hello", (status) => status.availableReplicas === 1)
      expect(reported).toContainEqual({ namespace: ns, service: "hello", source: "listener" })
      expect(events).toContainEqual(
        expect.objectContaining({
          type: "error",
          service: "hello",
          error: new Error("a broken watcher"),
        }),
      )
    } finally {
      subscription.abort()
    }
  })

  it("pushes to a watcher that subscribed before its service was added", async () => {
    const { query } = start({})
    const seen: ServiceQueryResponse[] = []
    const subscription = new AbortController()
    query.watch("later", ns, (status) => seen.push(status), { signal: subscription.signal })
    query.addService("later", serverService({}, { replicas: 1 }))
    await eventually("ready", () => (seen.at(-1)?.availableReplicas === 1 ? true : undefined))
    expect(seen[0]).toMatchObject({ replicas: 1, availableReplicas: 0 })
    subscription.abort()
  })
})

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { ServiceNotFoundError } from "../errors.js"
import type { ServiceQueryResponse } from "../types.js"
import {
  type ChangeSink,
  defineServiceQuery,
  type ServiceQueryDefinition,
  type WatchErrorContext,
} from "./define-service-query.js"

const NS = "team"
const status = (replicas: number, availableReplicas: number): ServiceQueryResponse => ({
  replicas,
  availableReplicas,
  minReplicas: 1,
  maxReplicas: 5,
  scalingFactor: 10,
})

interface Source {
  namespace: string
  sink: ChangeSink
  signal: AbortSignal
}

/** A backend whose statuses, read failures and change sources the test drives by hand. */
function backend(overrides: Partial<ServiceQueryDefinition> = {}) {
  const statuses = new Map<string, ServiceQueryResponse>()
  const reads: string[] = []
  const sources: Source[] = []
  const reported: Array<[string, WatchErrorContext]> = []
  let failure: Error | undefined
  const closed = vi.fn()
  const definition: ServiceQueryDefinition = {
    async read(service, namespace) {
      reads.push(service)
      if (failure) throw failure
      const found = statuses.get(service)
      if (found === undefined) throw new ServiceNotFoundError(service, namespace)
      return { ...found }
    },
    async setReplicas(service, _namespace, count) {
      statuses.set(service, status(count, statuses.get(service)?.availableReplicas ?? 0))
    },
    changes(namespace, sink, signal) {
      sources.push({ namespace, sink, signal })
    },
    pollIntervalMs: 100,
    onWatchError: (error, context) => reported.push([error.message, context]),
    close: closed,
    ...overrides,
  }
  const query = defineServiceQuery(definition)
  const openSources = () => sources.filter((source) => !source.signal.aborted)
  return {
    definition,
    query,
    statuses,
    reads,
    sources,
    reported,
    closed,
    openSources,
    /** The one open source (of the test's namespace). */
    source: () => {
      const open = openSources()
      expect(open).toHaveLength(1)
      return open[0]!
    },
    failReads(error: Error | undefined) {
      failure = error
    },
  }
}

/** A watcher that records what it hears. */
function watcher(
  b: ReturnType<typeof backend>,
  service: string,
  onChange: (s: ServiceQueryResponse) => void = () => {},
) {
  const seen: Array<[number, number]> = []
  const errors: Error[] = []
  const subscription = new AbortController()
  b.query.watch!(
    service,
    NS,
    (s) => {
      seen.push([s.replicas, s.availableReplicas])
      onChange(s)
    },
    { signal: subscription.signal, onError: (error) => errors.push(error) },
  )
  return { seen, errors, subscription }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe("defineServiceQuery", () => {
  it("names the definition's option it rejects, what it expected and what it got", () => {
    expect(() => defineServiceQuery({} as ServiceQueryDefinition)).toThrow(
      "option read must be a function, got undefined",
    )
    expect(() => backend({ pollIntervalMs: -1 })).toThrow(
      "option pollIntervalMs must be a positive number, got -1",
    )
  })

  it("rejects a bad replica count and an aborted signal before the backend is asked", async () => {
    const b = backend()
    b.statuses.set("echo", status(0, 0))
    await expect(b.query.setReplicas("echo", NS, 1.5)).rejects.toThrow(
      "replicas must be a non-negative integer, got 1.5",
    )
    const reason = new Error("left")
    const signal = AbortSignal.abort(reason)
    await expect(b.query.getReplicas("echo", NS, { signal })).rejects.toBe(reason)
    await expect(b.query.setReplicas("echo", NS, 1, { signal })).rejects.toBe(reason)
    expect(b.reads).toEqual([])
    expect(b.statuses.get("echo")?.replicas).toBe(0)
  })

  it("offers watch only with a change source", () => {
    const { changes: _unused, ...withoutChanges } = backend().definition
    expect(defineServiceQuery(withoutChanges).watch).toBeUndefined()
    expect(typeof backend().query.watch).toBe("function")
  })

  it("opens one change source per namespace, shared by every watcher, closed with the last", () => {
    const b = backend()
    const first = watcher(b, "echo")
    const second = watcher(b, "echo")
    const third = watcher(b, "other")
    expect(b.sources).toHaveLength(1)
    expect(b.query.activeWatches).toBe(3)
    first.subscription.abort()
    second.subscription.abort()
    expect(b.source().signal.aborted).toBe(false)
    third.subscription.abort()
    expect(b.openSources()).toHaveLength(0)
    expect(b.query.activeWatches).toBe(0)
  })

  it("reads a hinted service once for all its watchers, and drops repeated statuses", async () => {
    const b = backend()
    b.statuses.set("echo", status(1, 0))
    const first = watcher(b, "echo")
    const second = watcher(b, "echo")
    const { sink } = b.source()
    sink.changed("echo")
    sink.changed("echo")
    sink.changed("unwatched")
    await vi.advanceTimersByTimeAsync(0)
    // One read runs, the second hint queues one more after it; the unwatched service costs none.
    expect(b.reads).toEqual(["echo", "echo"])
    b.statuses.set("echo", status(1, 1))
    sink.changed("echo")
    await vi.advanceTimersByTimeAsync(0)
    expect(first.seen).toEqual([
      [1, 0],
      [1, 1],
    ])
    expect(second.seen).toEqual(first.seen)
  })

  it("delivers a status the source already holds without reading it", async () => {
    const b = backend()
    const { seen } = watcher(b, "echo")
    b.source().sink.changed("echo", status(1, 1))
    expect(seen).toEqual([[1, 1]])
    expect(b.reads).toEqual([])
  })

  it("isolates a watcher that throws, and reports it", () => {
    const b = backend()
    watcher(b, "echo", () => {
      throw new Error("broken watcher")
    })
    const healthy = watcher(b, "echo")
    b.source().sink.changed("echo", status(1, 1))
    expect(healthy.seen).toEqual([[1, 1]])
    expect(b.reported).toEqual([
      ["broken watcher", { namespace: NS, service: "echo", source: "listener" }],
    ])
  })

  it("tells every watcher of a service whose status cannot be read, through onError", async () => {
    const b = backend()
    const first = watcher(b, "gone")
    const second = watcher(b, "gone")
    b.source().sink.changed("gone")
    await vi.advanceTimersByTimeAsync(0)
    for (const { errors } of [first, second]) {
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ code: "ERR_SERVICE_NOT_FOUND" })
    }
    expect(b.reported[0]?.[1]).toEqual({ namespace: NS, service: "gone", source: "read" })
  })

  it("while the source is down: reads at once, polls each interval, re-opens it with a doubling delay", async () => {
    const b = backend()
    b.statuses.set("echo", status(1, 0))
    const { seen } = watcher(b, "echo")
    const first = b.source()
    first.sink.failed(new Error("stream dropped"))
    expect(first.signal.aborted).toBe(true)
    expect(b.reported).toEqual([["stream dropped", { namespace: NS, source: "changes" }]])
    await vi.advanceTimersByTimeAsync(0)
    expect(b.reads).toHaveLength(1)
    expect(seen).toEqual([[1, 0]])

    // The first re-open comes after one interval; it fails again, the next waits two.
    await vi.advanceTimersByTimeAsync(100)
    expect(b.sources).toHaveLength(2)
    b.source().sink.failed(new Error("still down"))
    await vi.advanceTimersByTimeAsync(199)
    expect(b.sources).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    expect(b.sources).toHaveLength(3)
    const readsWhileDown = b.reads.length
    expect(readsWhileDown).toBeGreaterThanOrEqual(4) // at once, then each 100 ms

    // Connected after the gap: everything is read once more and polling stops.
    b.statuses.set("echo", status(1, 1))
    b.source().sink.connected()
    await vi.advanceTimersByTimeAsync(0)
    expect(seen.at(-1)).toEqual([1, 1])
    const afterConnect = b.reads.length
    await vi.advanceTimersByTimeAsync(1000)
    expect(b.reads.length).toBe(afterConnect)
  })

  it("re-reads nothing when the source connects as it opens, and hints from a closed source are ignored", async () => {
    const b = backend({
      changes(_namespace, sink) {
        sink.connected()
      },
    })
    b.statuses.set("echo", status(0, 0))
    watcher(b, "echo")
    await vi.advanceTimersByTimeAsync(1000)
    expect(b.reads).toEqual([])
  })

  it("with pollWhileStarting, re-reads a service each interval while replicas are not all ready", async () => {
    const b = backend({ pollWhileStarting: true })
    b.statuses.set("echo", status(1, 0))
    const { seen } = watcher(b, "echo")
    b.source().sink.changed("echo")
    await vi.advanceTimersByTimeAsync(0)
    await vi.advanceTimersByTimeAsync(100)
    expect(b.reads).toEqual(["echo", "echo"])
    b.statuses.set("echo", status(1, 1))
    await vi.advanceTimersByTimeAsync(100)
    expect(seen).toEqual([
      [1, 0],
      [1, 1],
    ])
    await vi.advanceTimersByTimeAsync(1000)
    expect(b.reads).toHaveLength(3)
  })

  it("close() ends every watch and source, releases the backend once, and leaves no timer", async () => {
    const b = backend()
    const { subscription } = watcher(b, "echo")
    b.source().sink.failed(new Error("down")) // polling and a re-open timer are pending
    await b.query.close()
    await b.query.close()
    expect(b.query.activeWatches).toBe(0)
    expect(b.openSources()).toHaveLength(0)
    expect(b.closed).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
    subscription.abort()
    watcher(b, "echo")
    expect(b.query.activeWatches).toBe(0)
    expect(b.sources).toHaveLength(1)
  })
})

import { afterEach, describe, expect, it, vi } from "vitest"
import { freshnessClock } from "./clock.js"
import { createFunctionCache, FunctionMeta } from "./function-cache.js"
import type { ServiceQueryResponse } from "./types.js"

const response = (availableReplicas: number): ServiceQueryResponse => ({
  replicas: availableReplicas,
  availableReplicas,
  minReplicas: 1,
  maxReplicas: 5,
  scalingFactor: 10,
})

afterEach(() => {
  vi.useRealTimers()
})

describe("FunctionMeta", () => {
  it("records when it was fetched, on the monotonic clock", () => {
    const before = freshnessClock.now()
    const meta = new FunctionMeta(response(1))
    expect(meta.lastRefresh).toBeGreaterThanOrEqual(before)
    expect(meta.lastRefresh).toBeLessThanOrEqual(freshnessClock.now())
  })

  it("expires once the expiry has passed, not before", () => {
    vi.useFakeTimers()
    const meta = new FunctionMeta(response(1))
    const expiry = freshnessClock.span(500)
    vi.advanceTimersByTime(500)
    expect(meta.expired(expiry)).toBe(false)
    vi.advanceTimersByTime(1)
    expect(meta.expired(expiry)).toBe(true)
  })

  it("is fresh within its expiry, stale up to the trusted age, then expired", () => {
    vi.useFakeTimers()
    const meta = new FunctionMeta(response(1))
    const expiry = freshnessClock.span(250)
    const trusted = freshnessClock.span(1_250)
    expect(meta.freshness(expiry, trusted)).toBe("fresh")
    vi.advanceTimersByTime(250)
    expect(meta.freshness(expiry, trusted)).toBe("fresh")
    vi.advanceTimersByTime(1)
    expect(meta.freshness(expiry, trusted)).toBe("stale")
    vi.advanceTimersByTime(999)
    expect(meta.freshness(expiry, trusted)).toBe("stale")
    vi.advanceTimersByTime(1)
    expect(meta.freshness(expiry, trusted)).toBe("expired")
  })

  it("stays fresh when pushed by a watching backend, however old", () => {
    vi.useFakeTimers()
    const meta = new FunctionMeta(response(1), freshnessClock.now(), true)
    vi.advanceTimersByTime(3_600_000)
    expect(meta.freshness(freshnessClock.span(1), freshnessClock.span(1))).toBe("fresh")
    expect(meta.expired(freshnessClock.span(1))).toBe(false)
  })
})

describe("createFunctionCache", () => {
  it("misses a function it never saw", () => {
    const cache = createFunctionCache(100)
    expect(cache.get("figlet", "openfaas-fn")).toEqual({ response: undefined, hit: false })
  })

  it("hits a function set within the expiry", () => {
    const cache = createFunctionCache(60_000)
    cache.set("figlet", "openfaas-fn", response(1))
    const { response: cached, hit } = cache.get("figlet", "openfaas-fn")
    expect(hit).toBe(true)
    expect(cached?.availableReplicas).toBe(1)
  })

  it("returns a stale entry with hit: false once expired, as upstream", () => {
    vi.useFakeTimers({ now: 10_000 })
    const cache = createFunctionCache(1)
    cache.set("figlet", "openfaas-fn", response(2))
    vi.advanceTimersByTime(2)
    const { response: stale, hit } = cache.get("figlet", "openfaas-fn")
    expect(hit).toBe(false)
    expect(stale?.availableReplicas).toBe(2)
  })

  it("times entries on the monotonic clock: a wall-clock step neither expires nor revives one", () => {
    vi.useFakeTimers({ now: 10_000 })
    const cache = createFunctionCache(1_000)
    cache.set("figlet", "openfaas-fn", response(2))
    vi.setSystemTime(10_000 + 3_600_000)
    expect(cache.get("figlet", "openfaas-fn").hit).toBe(true)
    vi.advanceTimersByTime(1_001)
    vi.setSystemTime(10_000)
    expect(cache.get("figlet", "openfaas-fn").hit).toBe(false)
  })

  it("keeps namespaces apart", () => {
    const cache = createFunctionCache(60_000)
    cache.set("figlet", "openfaas-fn", response(1))
    expect(cache.get("figlet", "staging").hit).toBe(false)
    cache.set("figlet", "staging", response(3))
    expect(cache.get("figlet", "staging").response?.availableReplicas).toBe(3)
    expect(cache.get("figlet", "openfaas-fn").response?.availableReplicas).toBe(1)
  })

  it("drops the least recently used entry beyond maxEntries", () => {
    const cache = createFunctionCache(60_000, { maxEntries: 2 })
    cache.set("a", "ns", response(1))
    cache.set("b", "ns", response(1))
    cache.get("a", "ns") // a is now the most recently used
    cache.set("c", "ns", response(1))
    expect(cache.get("b", "ns").response).toBeUndefined()
    expect(cache.get("a", "ns").hit).toBe(true)
    expect(cache.get("c", "ns").hit).toBe(true)
  })

  it("answers meta for the same service asked again after it was set, deleted or dropped", () => {
    const cache = createFunctionCache(60_000, { maxEntries: 2 })
    expect(cache.meta("a", "ns")).toBeUndefined()
    cache.set("a", "ns", response(1))
    const first = cache.meta("a", "ns")
    expect(first?.serviceQueryResponse.availableReplicas).toBe(1)
    expect(cache.meta("a", "ns")).toBe(first)
    cache.set("a", "ns", response(2))
    expect(cache.meta("a", "ns")?.serviceQueryResponse.availableReplicas).toBe(2)
    expect(cache.meta("a", "other")).toBeUndefined()
    expect(cache.meta("a", "ns")).toBeDefined()
    cache.delete("a", "ns")
    expect(cache.meta("a", "ns")).toBeUndefined()
    cache.set("a", "ns", response(3))
    expect(cache.meta("a", "ns")?.serviceQueryResponse.availableReplicas).toBe(3)
    cache.set("b", "ns", response(1))
    cache.set("c", "ns", response(1)) // drops a, the least recently used
    expect(cache.meta("a", "ns")).toBeUndefined()
  })

  it("rejects a negative expiry and a zero bound", () => {
    expect(() => createFunctionCache(-1)).toThrow(
      "option expiryMs must be a non-negative number, got -1",
    )
    expect(() => createFunctionCache(1, { maxEntries: 0 })).toThrow(
      "option maxEntries must be a positive integer number, got 0",
    )
    expect(() => createFunctionCache(undefined as never)).toThrow(
      "option expiryMs must be a non-negative number, got undefined",
    )
    expect(() => createFunctionCache(1, 10 as never)).toThrow(
      "option options must be an object such as { maxEntries }, got 10",
    )
  })
})

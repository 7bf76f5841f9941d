import { LruMap } from "./lru.js"
import { invalidOption, numberOption, optionsObject } from "./options.js"
import type { ServiceQueryResponse } from "./types.js"

/**
 * Milliseconds on a monotonic clock, what cache freshness is measured with (as the Go gateway's,
 * whose time comparisons use the monotonic reading): a wall-clock step neither expires nor
 * revives an entry. `performance.now()`, not `Date.now()`: on Node 24 it is a fast call whose
 * number is never boxed, where `Date.now()` makes a heap number on every call (16 bytes).
 */
export const monotonicMs = (): number => performance.now()

/** One cached answer and when it was fetched (`monotonicMs`). */
export class FunctionMeta {
  constructor(
    readonly serviceQueryResponse: ServiceQueryResponse,
    readonly lastRefresh: number = monotonicMs(),
    /** Kept right by the backend's pushes while the service is watched: it never expires. */
    readonly pushed: boolean = false,
  ) {}

  /** True once `expiryMs` has passed since the answer was fetched (never for a pushed one). */
  expired(expiryMs: number, now: number = monotonicMs()): boolean {
    return !this.pushed && now > this.lastRefresh + expiryMs
  }
}

export interface FunctionCacheLookup {
  /** The last known answer, even when stale. */
  response: ServiceQueryResponse | undefined
  /** True only for a fresh entry. */
  hit: boolean
}

export interface FunctionCacher {
  /** `pushed`: the backend's pushes keep this entry right, so it never expires (the scaler's watches). */
  set(name: string, namespace: string, response: ServiceQueryResponse, pushed?: boolean): void
  /** A stale entry is returned with `hit: false`, as upstream. */
  get(name: string, namespace: string): FunctionCacheLookup
  /** The entry itself, without allocating a lookup result (the gateway's hot path). */
  meta(name: string, namespace: string): FunctionMeta | undefined
  delete(name: string, namespace: string): void
  readonly expiryMs: number
  /** The bound on entries, when the cache has one. */
  readonly maxEntries?: number
}

export interface FunctionCacheOptions {
  /** Entries kept at most; the least recently used go first. Default 10 000. */
  maxEntries?: number
}

export const DEFAULT_CACHE_MAX_ENTRIES = 10_000

/** The key every per-service structure uses. */
export function serviceKey(name: string, namespace: string): string {
  return `${name}.${namespace}`
}

const MISS: FunctionCacheLookup = Object.freeze({ response: undefined, hit: false })

export function createFunctionCache(
  expiryMs: number,
  options: FunctionCacheOptions = {},
): FunctionCacher {
  // Required: an entry of a cache without expiry would never go stale.
  if (expiryMs === undefined) throw invalidOption("expiryMs", "a non-negative number", expiryMs)
  numberOption("expiryMs", expiryMs, 0, "non-negative")
  // Lookups go through namespace → name maps: no key string is built per request (the hot
  // path); the LRU, keyed by `name.namespace`, only keeps the bound.
  const byNamespace = new Map<string, Map<string, FunctionMeta>>()
  // The last lookup and its answer: a warm gateway asks for the same service again and again,
  // and its name and namespace are the same strings each time (the resolver's cached target).
  let lastName: string | undefined
  let lastNamespace: string | undefined
  let lastMeta: FunctionMeta | undefined
  const forget = (name: string, namespace: string) => {
    lastName = undefined
    const names = byNamespace.get(namespace)
    names?.delete(name)
    if (names?.size === 0) byNamespace.delete(namespace)
  }
  const maxEntries = numberOption(
    "maxEntries",
    optionsObject(options, "{ maxEntries }").maxEntries,
    DEFAULT_CACHE_MAX_ENTRIES,
    "positive integer",
  )
  const recency = new LruMap<string, { name: string; namespace: string }>(
    maxEntries,
    (_key, { name, namespace }) => forget(name, namespace),
  )
  const meta = (name: string, namespace: string) => {
    if (name === lastName && namespace === lastNamespace) return lastMeta
    lastMeta = byNamespace.get(namespace)?.get(name)
    lastName = name
    lastNamespace = namespace
    return lastMeta
  }
  return {
    expiryMs,
    maxEntries,
    set(name, namespace, response, pushed = false) {
      let names = byNamespace.get(namespace)
      if (names === undefined) {
        names = new Map()
        byNamespace.set(namespace, names)
      }
      names.set(name, new FunctionMeta(response, monotonicMs(), pushed))
      lastName = undefined
      recency.set(serviceKey(name, namespace), { name, namespace })
    },
    get(name, namespace) {
      const found = meta(name, namespace)
      if (found === undefined) return MISS
      recency.get(serviceKey(name, namespace))
      return { response: found.serviceQueryResponse, hit: !found.expired(expiryMs) }
    },
    // No recency update on the hot path: a ready entry is re-set on every refresh anyway.
    meta,
    delete(name, namespace) {
      forget(name, namespace)
      recency.delete(serviceKey(name, namespace))
    },
  }
}

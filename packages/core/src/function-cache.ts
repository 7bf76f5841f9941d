import { type Freshness, freshnessClock, type Instant, type Span } from "./clock.js"
import { LruMap } from "./lru.js"
import { invalidOption, numberOption, optionsObject } from "./options.js"
import { ServiceMap } from "./service-map.js"
import type { ServiceQueryResponse } from "./types.js"

/** One cached answer and when it was fetched, on `freshnessClock`. */
export class FunctionMeta {
  constructor(
    readonly serviceQueryResponse: ServiceQueryResponse,
    readonly lastRefresh: Instant = freshnessClock.now(),
    /** Kept right by the backend's pushes while the service is watched: it never expires. */
    readonly pushed: boolean = false,
  ) {}

  /**
   * "fresh" until `expiry` has passed since the answer was fetched (always, for a pushed one:
   * no clock read), "stale" until `trusted` has, then "expired"; both spans made once by
   * `freshnessClock.span`. One clock read, nothing allocated: the gateway's warm check.
   */
  freshness(expiry: Span, trusted: Span = expiry): Freshness {
    return this.pushed ? "fresh" : freshnessClock.freshness(this.lastRefresh, expiry, trusted)
  }

  /** True once `expiry` (a `freshnessClock.span`) has passed since the answer was fetched. */
  expired(expiry: Span): boolean {
    return this.freshness(expiry) !== "fresh"
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
  // Lookups build no key string (the hot path); the LRU, keyed by `name.namespace`, only keeps
  // the bound.
  const entries = new ServiceMap<FunctionMeta>()
  // The last lookup and its answer: a warm gateway asks for the same service again and again,
  // and its name and namespace are the same strings each time (the resolver's cached target).
  let lastName: string | undefined
  let lastNamespace: string | undefined
  let lastMeta: FunctionMeta | undefined
  const forget = (name: string, namespace: string) => {
    lastName = undefined
    entries.delete(name, namespace)
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
    lastMeta = entries.get(name, namespace)
    lastName = name
    lastNamespace = namespace
    return lastMeta
  }
  const expiry = freshnessClock.span(expiryMs)
  return {
    expiryMs,
    maxEntries,
    set(name, namespace, response, pushed = false) {
      entries.set(name, namespace, new FunctionMeta(response, freshnessClock.now(), pushed))
      lastName = undefined
      recency.set(serviceKey(name, namespace), { name, namespace })
    },
    get(name, namespace) {
      const found = meta(name, namespace)
      if (found === undefined) return MISS
      recency.get(serviceKey(name, namespace))
      return { response: found.serviceQueryResponse, hit: !found.expired(expiry) }
    },
    // No recency update on the hot path: a ready entry is re-set on every refresh anyway.
    meta,
    delete(name, namespace) {
      forget(name, namespace)
      recency.delete(serviceKey(name, namespace))
    },
  }
}

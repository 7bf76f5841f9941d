// The scaler's options (upstream's ScalingConfig), their defaults and their checks.
import type { ScalingEventListener } from "./events.js"
import type { ScalingObserver } from "./observer.js"
import { invalidOption, numberOption } from "./options.js"
import type { SharedWakes } from "./shared-wake.js"
import type { ServiceQuery } from "./types.js"

export interface ScalingConfig {
  /**
   * The backend: reads a service's replicas, sets them, and (optionally) pushes changes. A
   * provider (`@scale-from-zero/openfaas`, `kubernetes`, `docker`, `process`) or your own.
   */
  serviceQuery: ServiceQuery
  /** Polls of a waking service's status at most; with the interval, the default timeout. Default 1000. */
  maxPollCount?: number
  /** Milliseconds between status polls and between scale-up retries. Default 100. */
  functionPollInterval?: number
  /** Milliseconds a status answer stays fresh. Default 250. */
  cacheExpiry?: number
  /**
   * Milliseconds past `cacheExpiry` a cached "ready" is still trusted (the request passes and
   * the status is re-read in the background); older, the request waits for a fresh read first.
   * Default 4 × cacheExpiry. Statuses a watching backend pushes stay fresh while watched.
   */
  maxStaleMs?: number
  /**
   * With a backend that has `watch`: keep each service cached ready subscribed to its pushes
   * (bounded by the cache size), so an external scale-down is known at once and a watched
   * status needs no re-read. Default true; the Hono adapter turns it off on Cloudflare Workers,
   * whose I/O cannot outlive the request that opened it.
   */
  watchCached?: boolean
  /** Scale-up attempts before giving up. Default 20. */
  setScaleRetries?: number
  /** Milliseconds a caller waits for a ready replica at most. Default maxPollCount × functionPollInterval. */
  timeout?: number
  /**
   * Milliseconds an unknown service is remembered as unknown: its requests are answered 404
   * without asking the backend meanwhile (protection against a client looping on a missing
   * name), at the cost of a service deployed meanwhile answering 404 until then. Default 0:
   * not remembered, every request asks the backend (concurrent ones share one read), as the
   * OpenFaaS gateway does.
   */
  notFoundExpiry?: number
  /** Hears what happens as it happens: `scale-up`, `ready`, `timeout`, `error`, `shed`, `scale-down`. */
  onEvent?: ScalingEventListener
  /** Hear of every figure recorded (metrics libraries); OpenTelemetry needs none of this. */
  observers?: readonly ScalingObserver[]
  /**
   * Wakes shared with the other gateway instances in front of the same services (such as
   * `@scale-from-zero/redis`'s): one instance scales a cold service up and waits for it, the
   * others wait for its "ready", so the backend is asked what one instance would ask it.
   */
  sharedWakes?: SharedWakes
}

export interface ResolvedScalingConfig {
  readonly serviceQuery: ServiceQuery
  readonly maxPollCount: number
  readonly functionPollInterval: number
  readonly cacheExpiry: number
  readonly maxStaleMs: number
  readonly watchCached: boolean
  readonly setScaleRetries: number
  readonly timeout: number
  readonly notFoundExpiry: number
  readonly sharedWakes: SharedWakes | undefined
}

export const DEFAULT_MAX_POLL_COUNT = 1000
export const DEFAULT_FUNCTION_POLL_INTERVAL = 100
export const DEFAULT_CACHE_EXPIRY = 250
export const DEFAULT_SET_SCALE_RETRIES = 20
export const DEFAULT_NOT_FOUND_EXPIRY = 0
/** A cached "ready" is trusted this many cache periods past its expiry by default. */
const DEFAULT_MAX_STALE_FACTOR = 4

export function resolveScalingConfig(config: ScalingConfig): ResolvedScalingConfig {
  const serviceQuery = config?.serviceQuery
  if (
    typeof serviceQuery?.getReplicas !== "function" ||
    typeof serviceQuery.setReplicas !== "function"
  ) {
    throw invalidOption(
      "serviceQuery",
      "a ServiceQuery (an object with getReplicas and setReplicas)",
      serviceQuery,
    )
  }
  if (config.onEvent !== undefined && typeof config.onEvent !== "function") {
    throw invalidOption("onEvent", "a function", config.onEvent)
  }
  const maxPollCount = numberOption(
    "maxPollCount",
    config.maxPollCount,
    DEFAULT_MAX_POLL_COUNT,
    "positive integer",
  )
  const functionPollInterval = numberOption(
    "functionPollInterval",
    config.functionPollInterval,
    DEFAULT_FUNCTION_POLL_INTERVAL,
    "positive",
  )
  const cacheExpiry = numberOption(
    "cacheExpiry",
    config.cacheExpiry,
    DEFAULT_CACHE_EXPIRY,
    "positive",
  )
  const { sharedWakes } = config
  if (
    sharedWakes !== undefined &&
    (typeof sharedWakes?.claimWake !== "function" || typeof sharedWakes.onReady !== "function")
  ) {
    throw invalidOption("sharedWakes", "a SharedWakes (such as Redis's)", sharedWakes)
  }
  if (config.watchCached !== undefined && typeof config.watchCached !== "boolean") {
    throw invalidOption("watchCached", "a boolean", config.watchCached)
  }
  return {
    serviceQuery,
    sharedWakes,
    watchCached: config.watchCached ?? true,
    maxPollCount,
    functionPollInterval,
    cacheExpiry,
    maxStaleMs: numberOption(
      "maxStaleMs",
      config.maxStaleMs,
      cacheExpiry * DEFAULT_MAX_STALE_FACTOR,
      "non-negative",
    ),
    setScaleRetries: numberOption(
      "setScaleRetries",
      config.setScaleRetries,
      DEFAULT_SET_SCALE_RETRIES,
      "positive integer",
    ),
    timeout: numberOption(
      "timeout",
      config.timeout,
      maxPollCount * functionPollInterval,
      "positive",
    ),
    notFoundExpiry: numberOption(
      "notFoundExpiry",
      config.notFoundExpiry,
      DEFAULT_NOT_FOUND_EXPIRY,
      "non-negative",
    ),
  }
}

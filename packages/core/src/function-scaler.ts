import { asError, sleep } from "./abortable.js"
import { DEFAULT_MAX_REPLICAS, DEFAULT_MIN_REPLICAS, DEFAULT_SCALING_FACTOR } from "./constants.js"
import { ERROR_CODES, hasErrorCode, ScaleTimeoutError, ServiceNotFoundError } from "./errors.js"
import type { ScalingEventListener } from "./events.js"
import { createFunctionCache, type FunctionCacher, serviceKey } from "./function-cache.js"
import { LruMap } from "./lru.js"
import { invalidOption, numberOption } from "./options.js"
import { SingleFlight } from "./single-flight.js"
import type { ServiceQuery, ServiceQueryResponse } from "./types.js"

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
  /** Scale-up attempts before giving up. Default 20. */
  setScaleRetries?: number
  /** Milliseconds a caller waits for a ready replica at most. Default maxPollCount × functionPollInterval. */
  timeout?: number
  /** Milliseconds an unknown service is remembered as unknown. Default 1000. */
  notFoundExpiry?: number
  /** Hears what happens as it happens: `scale-up`, `ready`, `timeout`, `error`, `shed`, `scale-down`. */
  onEvent?: ScalingEventListener
}

export interface ResolvedScalingConfig {
  readonly serviceQuery: ServiceQuery
  readonly maxPollCount: number
  readonly functionPollInterval: number
  readonly cacheExpiry: number
  readonly setScaleRetries: number
  readonly timeout: number
  readonly notFoundExpiry: number
}

/**
 * How a `scale()` call ended: `ready` (forward the request), `not-found` (the backend does not
 * know the service), `timeout` (no ready replica within the timeout), `aborted` (the caller's
 * signal, or the scaler closed), `backend-error` (the backend failed).
 */
export type ScaleOutcome = "ready" | "not-found" | "timeout" | "aborted" | "backend-error"

export interface FunctionScaleResult {
  readonly outcome: ScaleOutcome
  /** A replica is ready: forward the request. The seed's shape: `outcome === "ready"`. */
  available: boolean
  /** False only when the backend does not know the service. */
  found: boolean
  /** Why it is not available: ServiceNotFoundError, ScaleTimeoutError, a provider error or the abort reason. */
  error?: Error
  durationMs: number
  /** True when the caller had to wait for the service to become ready. */
  coldStart: boolean
}

export interface ScaleOptions {
  /** Ends this caller's wait at once (the `aborted` outcome); the wake goes on for the others. */
  signal?: AbortSignal
}

export interface FunctionScaler {
  readonly config: ResolvedScalingConfig
  readonly cache: FunctionCacher
  /** Resolves once the service has a ready replica, scaling it from zero if need be; never rejects. */
  scale(name: string, namespace: string, options?: ScaleOptions): Promise<FunctionScaleResult>
  /** Synchronous: the cached status, fresh or stale, without asking the backend. */
  peek(name: string, namespace: string): ServiceQueryResponse | undefined
  /** True while the service is remembered as unknown to the backend. */
  isKnownMissing(name: string, namespace: string): boolean
  /** Re-reads a service's status in the background (one call per service at a time). */
  refresh(name: string, namespace: string): void
  /** Callers waiting for this service now. */
  waiting(name: string, namespace: string): number
  /** Resolves when the current wake of this service ends; undefined when none runs. */
  wakeSettled(name: string, namespace: string): Promise<void> | undefined
  /** Callers waiting for any service now. */
  readonly totalWaiting: number
  /**
   * Scales an idle service to zero, unless a wake for it is under way (then resolves false).
   * Requests arriving meanwhile are held, and woken once the scale-down is through.
   */
  scaleDown(name: string, namespace: string): Promise<boolean>
  /** Ends every wait (as aborted) and stops every wake. */
  close(): void
}

export const DEFAULT_MAX_POLL_COUNT = 1000
export const DEFAULT_FUNCTION_POLL_INTERVAL = 100
export const DEFAULT_CACHE_EXPIRY = 250
export const DEFAULT_SET_SCALE_RETRIES = 20
export const DEFAULT_NOT_FOUND_EXPIRY = 1000
const MAX_REMEMBERED_MISSING = 10_000
/** While a backend pushes readiness, its status is still re-read every this many poll intervals (≥ 1 s). */
const WATCH_RECHECK_FACTOR = 10

interface WaitingCaller {
  readonly wake: Wake
  readonly start: number
  settle(result: FunctionScaleResult): void
}

/**
 * One shared scale-up and readiness wait for a service. The scale-up runs to its end
 * once asked for; the readiness wait stops as soon as no caller is left.
 *
 * How a wake lives (one per service at a time, in `wakes`):
 * - `join`: the first caller of a service without a cached ready replica creates the wake
 *   and starts `run`; later callers join it. Each caller is a Waiter, settled exactly once.
 * - `run`, phase "starting": waits out a scale-down in progress, reads the status, and when
 *   no replica is ready and none is desired, asks for one (`scaleUp`, retried).
 * - phase "waiting": readiness by the provider's watch (with a slow re-read in case a push
 *   is lost) or by polling; on ready, every waiter settles `ready` together (`settleAll`).
 * - `leave`: a waiter whose signal aborts settles `aborted`; `expire` settles those past the
 *   timeout (one timer per wake: callers join in time order). When the last waiter leaves
 *   during "waiting", the wake stops; during "starting", the scale-up still completes.
 * - `stop` forgets the wake, clears its timer and aborts whatever it still runs.
 */
interface Wake {
  readonly name: string
  readonly namespace: string
  readonly start: number
  readonly waiters: Set<WaitingCaller>
  readonly controller: AbortController
  phase: "starting" | "waiting"
  deadlineTimer: ReturnType<typeof setTimeout> | undefined
  /** Made on first request by wakeSettled, resolved by stop. */
  settled: { promise: Promise<void>; resolve: () => void } | undefined
}

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
  return {
    serviceQuery,
    maxPollCount,
    functionPollInterval,
    cacheExpiry: numberOption("cacheExpiry", config.cacheExpiry, DEFAULT_CACHE_EXPIRY, "positive"),
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
      "positive",
    ),
  }
}

const WARM: FunctionScaleResult = Object.freeze({
  outcome: "ready",
  available: true,
  found: true,
  durationMs: 0,
  coldStart: false,
})

export function createFunctionScaler(
  scalingConfig: ScalingConfig,
  cache?: FunctionCacher,
): FunctionScaler {
  const config = resolveScalingConfig(scalingConfig)
  const { serviceQuery, functionPollInterval, timeout } = config
  const watchRecheckInterval = Math.max(functionPollInterval * WATCH_RECHECK_FACTOR, 1000)
  const emit = scalingConfig.onEvent ?? (() => {})
  const functionCache = cache ?? createFunctionCache(config.cacheExpiry)
  const missing = new LruMap<string, number>(MAX_REMEMBERED_MISSING)
  const wakes = new Map<string, Wake>()
  const scaleDowns = new Map<string, Promise<boolean>>()
  const refreshes = new SingleFlight()
  let totalWaiting = 0

  const isKnownMissing = (name: string, namespace: string) => {
    const until = missing.peek(serviceKey(name, namespace))
    return until !== undefined && Date.now() < until
  }

  const rememberMissing = (name: string, namespace: string) => {
    functionCache.delete(name, namespace)
    missing.set(serviceKey(name, namespace), Date.now() + config.notFoundExpiry)
  }

  const query = async (name: string, namespace: string, signal?: AbortSignal) => {
    const status = await serviceQuery.getReplicas(name, namespace, signal ? { signal } : undefined)
    functionCache.set(name, namespace, status)
    missing.delete(serviceKey(name, namespace))
    return status
  }

  /** Found but not available: a provider error, a timeout, or the caller's abort reason. */
  const unavailable = (
    outcome: "timeout" | "aborted" | "backend-error",
    error: Error,
    start: number,
    coldStart = false,
  ): FunctionScaleResult => ({
    outcome,
    available: false,
    found: true,
    error,
    durationMs: Date.now() - start,
    coldStart,
  })

  const notFound = (name: string, namespace: string, start: number): FunctionScaleResult => ({
    outcome: "not-found",
    available: false,
    found: false,
    error: new ServiceNotFoundError(name, namespace),
    durationMs: Date.now() - start,
    coldStart: false,
  })

  /** Asks for max(minReplicas, 1) replicas, retrying while desired replicas stays 0. */
  const scaleUp = async (wake: Wake, status: ServiceQueryResponse) => {
    const { name, namespace, controller } = wake
    const { signal } = controller
    const replicas = Math.max(status.minReplicas, DEFAULT_MIN_REPLICAS)
    emit({ type: "scale-up", service: name, namespace, replicas })
    let lastError: Error | undefined
    for (let attempt = 0; attempt < config.setScaleRetries; attempt++) {
      if (attempt > 0) {
        await sleep(functionPollInterval, signal)
        if ((await query(name, namespace, signal)).replicas > 0) return
      }
      try {
        await serviceQuery.setReplicas(name, namespace, replicas, { signal })
        return
      } catch (error) {
        if (signal.aborted || hasErrorCode(error, ERROR_CODES.serviceNotFound)) throw error
        lastError = asError(error)
      }
    }
    throw lastError ?? new Error(`scaling ${name}.${namespace} failed`)
  }

  const untilAvailableByPolling = async (wake: Wake) => {
    const { name, namespace, controller } = wake
    for (;;) {
      await sleep(functionPollInterval, controller.signal)
      const status = await query(name, namespace, controller.signal)
      if (status.availableReplicas > 0) return status
      // Scaled back to zero by someone else while we waited: ask again.
      if (status.replicas === 0) await scaleUp(wake, status)
    }
  }

  const untilAvailableByWatch = (
    wake: Wake,
    watch: NonNullable<ServiceQuery["watch"]>,
  ): Promise<ServiceQueryResponse> => {
    const { name, namespace, controller } = wake
    return new Promise((resolve, reject) => {
      const subscription = new AbortController()
      const finish = (status: ServiceQueryResponse | undefined, error?: unknown) => {
        if (subscription.signal.aborted) return
        subscription.abort()
        controller.signal.removeEventListener("abort", onWakeAbort)
        if (status !== undefined) resolve(status)
        else reject(error)
      }
      const onWakeAbort = () => finish(undefined, controller.signal.reason)
      const onStatus = (status: ServiceQueryResponse) => {
        if (subscription.signal.aborted) return
        functionCache.set(name, namespace, status)
        if (status.availableReplicas > 0) finish(status)
      }
      controller.signal.addEventListener("abort", onWakeAbort, { once: true })
      try {
        watch.call(serviceQuery, name, namespace, onStatus, {
          signal: subscription.signal,
          onError: (error) => finish(undefined, error),
        })
      } catch (error) {
        finish(undefined, error)
        return
      }
      // Read at once (the service may have turned ready before the subscription), then now
      // and again in case a push is lost: a dropped event costs a delay, never a timeout.
      const recheck = async () => {
        for (;;) {
          onStatus(await query(name, namespace, subscription.signal))
          await sleep(watchRecheckInterval, subscription.signal)
        }
      }
      recheck().catch((error: unknown) => finish(undefined, error))
    })
  }

  const stop = (wake: Wake) => {
    const key = serviceKey(wake.name, wake.namespace)
    if (wakes.get(key) === wake) wakes.delete(key)
    clearTimeout(wake.deadlineTimer)
    wake.deadlineTimer = undefined
    wake.controller.abort()
    wake.settled?.resolve()
  }

  const settleAll = (wake: Wake, result: (waiter: WaitingCaller) => FunctionScaleResult) => {
    const waiters = [...wake.waiters]
    wake.waiters.clear()
    stop(wake)
    for (const waiter of waiters) waiter.settle(result(waiter))
  }

  const run = async (wake: Wake) => {
    const { name, namespace, controller } = wake
    let coldStart = false
    try {
      // A wake after a scale-down begins once the scale-down is through.
      await scaleDowns.get(serviceKey(name, namespace))?.catch(() => {})
      let status = await query(name, namespace, controller.signal)
      if (status.availableReplicas === 0) {
        coldStart = true
        if (status.replicas === 0) await scaleUp(wake, status)
        wake.phase = "waiting"
        if (wake.waiters.size === 0) {
          stop(wake)
          return
        }
        status =
          serviceQuery.watch !== undefined
            ? await untilAvailableByWatch(wake, serviceQuery.watch)
            : await untilAvailableByPolling(wake)
        emit({
          type: "ready",
          service: name,
          namespace,
          durationMs: Date.now() - wake.start,
          waiting: wake.waiters.size,
        })
      }
      settleAll(wake, (waiter) => ({
        outcome: "ready",
        available: true,
        found: true,
        durationMs: Date.now() - waiter.start,
        coldStart,
      }))
    } catch (error) {
      if (controller.signal.aborted) return // stopped: every waiter already left
      if (hasErrorCode(error, ERROR_CODES.serviceNotFound)) {
        rememberMissing(name, namespace)
        settleAll(wake, (waiter) => notFound(name, namespace, waiter.start))
        return
      }
      const providerError = asError(error)
      emit({ type: "error", service: name, namespace, error: providerError })
      settleAll(wake, (waiter) =>
        unavailable("backend-error", providerError, waiter.start, coldStart),
      )
    }
  }

  const leave = (waiter: WaitingCaller, result: FunctionScaleResult) => {
    const { wake } = waiter
    if (!wake.waiters.delete(waiter)) return
    waiter.settle(result)
    if (wake.waiters.size === 0 && wake.phase === "waiting") stop(wake)
  }

  /** A caller waiting on a wake; it is its own abort listener, so it costs no closures. */
  class Waiter implements WaitingCaller {
    constructor(
      readonly wake: Wake,
      readonly start: number,
      readonly signal: AbortSignal | undefined,
      readonly resolve: (result: FunctionScaleResult) => void,
    ) {}

    handleEvent() {
      leave(this, unavailable("aborted", asError(this.signal?.reason), this.start))
    }

    settle(result: FunctionScaleResult) {
      this.signal?.removeEventListener("abort", this)
      totalWaiting--
      this.resolve(result)
    }
  }

  // Callers join in time order and share one timeout, so the first waiter's deadline is the
  // earliest: one timer per wake, not one per caller.
  const armDeadline = (wake: Wake) => {
    const first = wake.waiters.values().next()
    if (first.done || wake.deadlineTimer !== undefined) return
    const due = first.value.start + timeout - Date.now()
    wake.deadlineTimer = setTimeout(() => expire(wake), Math.max(0, due))
  }

  const expire = (wake: Wake) => {
    wake.deadlineTimer = undefined
    const now = Date.now()
    for (const waiter of wake.waiters) {
      if (waiter.start + timeout > now) break
      emit({ type: "timeout", service: wake.name, namespace: wake.namespace, timeoutMs: timeout })
      leave(
        waiter,
        unavailable(
          "timeout",
          new ScaleTimeoutError(wake.name, wake.namespace, timeout),
          waiter.start,
        ),
      )
    }
    armDeadline(wake)
  }

  const join = (
    name: string,
    namespace: string,
    start: number,
    signal: AbortSignal | undefined,
  ): Promise<FunctionScaleResult> => {
    const key = serviceKey(name, namespace)
    let wake = wakes.get(key)
    const isNew = wake === undefined
    if (wake === undefined) {
      wake = {
        name,
        namespace,
        start,
        waiters: new Set(),
        controller: new AbortController(),
        phase: "starting",
        deadlineTimer: undefined,
        settled: undefined,
      }
      wakes.set(key, wake)
    }
    const joined = wake
    return new Promise<FunctionScaleResult>((resolve) => {
      const waiter = new Waiter(joined, start, signal, resolve)
      joined.waiters.add(waiter)
      totalWaiting++
      signal?.addEventListener("abort", waiter, { once: true })
      armDeadline(joined)
      if (isNew) void run(joined)
    })
  }

  return {
    config,
    cache: functionCache,
    get totalWaiting() {
      return totalWaiting
    },
    waiting(name, namespace) {
      return wakes.get(serviceKey(name, namespace))?.waiters.size ?? 0
    },
    wakeSettled(name, namespace) {
      const wake = wakes.get(serviceKey(name, namespace))
      if (wake === undefined) return undefined
      if (wake.settled === undefined) {
        let resolve = () => {}
        const promise = new Promise<void>((done) => {
          resolve = done
        })
        wake.settled = { promise, resolve }
      }
      return wake.settled.promise
    },
    peek(name, namespace) {
      return functionCache.meta(name, namespace)?.serviceQueryResponse
    },
    isKnownMissing,
    refresh(name, namespace) {
      if (scaleDowns.has(serviceKey(name, namespace))) return
      refreshes
        .do(serviceKey(name, namespace), () => query(name, namespace))
        .catch((error: unknown) => {
          if (hasErrorCode(error, ERROR_CODES.serviceNotFound)) rememberMissing(name, namespace)
          else emit({ type: "error", service: name, namespace, error: asError(error) })
        })
    },
    scale(name, namespace, options = {}) {
      const start = Date.now()
      const { signal } = options
      const cached = functionCache.get(name, namespace)
      if (cached.hit && cached.response !== undefined && cached.response.availableReplicas > 0) {
        return Promise.resolve(WARM)
      }
      if (isKnownMissing(name, namespace)) return Promise.resolve(notFound(name, namespace, start))
      if (signal?.aborted) {
        return Promise.resolve(unavailable("aborted", asError(signal.reason), start))
      }
      return join(name, namespace, start, signal)
    },
    scaleDown(name, namespace) {
      const key = serviceKey(name, namespace)
      if (wakes.has(key) || scaleDowns.has(key)) return Promise.resolve(false)
      const last = functionCache.meta(name, namespace)?.serviceQueryResponse
      // From now on the gateway holds this service's requests instead of forwarding them.
      functionCache.set(name, namespace, {
        minReplicas: DEFAULT_MIN_REPLICAS,
        maxReplicas: DEFAULT_MAX_REPLICAS,
        scalingFactor: DEFAULT_SCALING_FACTOR,
        ...last,
        replicas: 0,
        availableReplicas: 0,
      })
      const scaling = serviceQuery
        .setReplicas(name, namespace, 0)
        .then(() => true)
        .finally(() => scaleDowns.delete(key))
      scaleDowns.set(key, scaling)
      return scaling
    },
    close() {
      for (const wake of [...wakes.values()]) {
        const reason = new DOMException("the scaler was closed", "AbortError")
        settleAll(wake, (waiter) => unavailable("aborted", reason, waiter.start))
      }
    },
  }
}

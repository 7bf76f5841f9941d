import { asError, deadline, sleep, type WaitSignal } from "./abortable.js"
import { DEFAULT_MAX_REPLICAS, DEFAULT_MIN_REPLICAS, DEFAULT_SCALING_FACTOR } from "./constants.js"
import {
  BackendError,
  ERROR_CODES,
  hasErrorCode,
  type InvalidServiceNameError,
  ScaleTimeoutError,
  ServiceNotFoundError,
} from "./errors.js"
import type { ScalingEventListener } from "./events.js"
import {
  createFunctionCache,
  DEFAULT_CACHE_MAX_ENTRIES,
  type FunctionCacher,
  serviceKey,
} from "./function-cache.js"
import { LruMap } from "./lru.js"
import { checkTarget } from "./names.js"
import { invalidOption } from "./options.js"
import {
  type ResolvedScalingConfig,
  resolveScalingConfig,
  type ScalingConfig,
} from "./scaling-config.js"
import { wakeWithOthers } from "./shared-wake.js"
import { SingleFlight } from "./single-flight.js"
import { createStartHistory, pollSchedule, type StartHistory } from "./start-history.js"
import { createTelemetry, type Telemetry } from "./telemetry.js"
import type { ServiceQuery, ServiceQueryResponse } from "./types.js"

export * from "./scaling-config.js"

/**
 * How a `scale()` call ended: `ready` (forward the request), `invalid-name` (the name or
 * namespace cannot name a service: nothing was asked of the backend), `not-found` (the backend
 * does not know the service), `timeout` (no ready replica within the timeout), `aborted` (the
 * caller's signal, or the scaler closed), `backend-error` (the backend failed).
 */
export type ScaleOutcome =
  | "ready"
  | "invalid-name"
  | "not-found"
  | "timeout"
  | "aborted"
  | "backend-error"

export interface FunctionScaleResult {
  readonly outcome: ScaleOutcome
  /** A replica is ready: forward the request. The seed's shape: `outcome === "ready"`. */
  available: boolean
  /** False only when the backend does not know the service, or the name is invalid. */
  found: boolean
  /**
   * Why it is not available: InvalidServiceNameError, ServiceNotFoundError, ScaleTimeoutError,
   * a provider error (a BackendError when a call gave no answer within the timeout) or the
   * abort reason.
   */
  error?: Error
  durationMs: number
  /** True when the caller had to wait for the service to become ready. */
  coldStart: boolean
}

export interface ScaleOptions {
  /** Ends this caller's wait at once (the `aborted` outcome); the wake goes on for the others. */
  signal?: WaitSignal
}

export interface ScaleDownOptions {
  /** Settles once the service's requests in flight have finished (or may be cut). */
  drain?: () => Promise<void>
}

/**
 * Called by a wake when its service has no ready replica: what the service needs ready too
 * (its dependencies), woken now. `ready` settles once they are, rejects when they cannot be;
 * the service is scaled up after it, or at once when `parallel`, and its waiters are released
 * only once both are ready. Undefined when it needs nothing. The signal aborts when the wake stops.
 */
export type Prerequisites = (
  name: string,
  namespace: string,
  status: ServiceQueryResponse,
  signal: AbortSignal,
) => { readonly ready: Promise<void>; readonly parallel: boolean } | undefined

export interface FunctionScaler {
  readonly config: ResolvedScalingConfig
  readonly cache: FunctionCacher
  /** Each service's recent cold starts, from this scaler's `scale-up` and `ready` events. */
  readonly starts: StartHistory
  /** Resolves once the service has a ready replica, scaling it from zero if need be; never rejects. */
  scale(name: string, namespace: string, options?: ScaleOptions): Promise<FunctionScaleResult>
  /** Synchronous: the cached status, fresh or stale, without asking the backend. */
  peek(name: string, namespace: string): ServiceQueryResponse | undefined
  /** True while the service is remembered as unknown to the backend. */
  isKnownMissing(name: string, namespace: string): boolean
  /** Re-reads a service's status in the background (one call per service at a time; none for an invalid name). */
  refresh(name: string, namespace: string): void
  /** The service's status read afresh (one read shared by concurrent callers), never waking it. */
  read(name: string, namespace: string): Promise<ServiceQueryResponse>
  /** Callers waiting for this service now. */
  waiting(name: string, namespace: string): number
  /** Resolves when the current wake of this service ends; undefined when none runs. */
  wakeSettled(name: string, namespace: string): Promise<void> | undefined
  /** Callers waiting for any service now. */
  readonly totalWaiting: number
  /**
   * Scales a service to zero, unless a wake or a scale-down of it is under way (then resolves
   * false). From the call on, its requests are held, and woken once the scale-down is through;
   * `drain` (the requests in flight finishing) is awaited before replicas are set to 0.
   * Rejects with an InvalidServiceNameError for a name no backend could hold.
   */
  scaleDown(name: string, namespace: string, options?: ScaleDownOptions): Promise<boolean>
  /** Ends every wait (as aborted) and stops every wake. */
  close(): void
}

/** Told how a wait ended: a promise's resolve, or the gate's own held request (no closure). */
type ScaleDone = ((result: FunctionScaleResult) => void) | ScaleSettled

export interface ScaleSettled {
  scaleSettled(result: FunctionScaleResult): void
}

/**
 * `scaler[scaleThen](name, namespace, signal, done)`: `scale` calling `done.scaleSettled` once
 * instead of settling a promise, so a held request's wait costs no promise and no frame here.
 * Internal: the gate's held requests use it; the key is not exported from the package.
 */
export const scaleThen: unique symbol = Symbol("scaleThen")

/** What the gate's scaler (from createFunctionScaler) has beside the public face. */
export interface HeldScaling {
  [scaleThen](
    name: string,
    namespace: string,
    signal: WaitSignal | undefined,
    done: ScaleSettled,
  ): void
}

const MAX_REMEMBERED_MISSING = 10_000
/** While a backend pushes readiness, its status is still re-read every this many poll intervals (≥ 1 s). */
const WATCH_RECHECK_FACTOR = 10

interface WaitingCaller {
  readonly wake: Wake
  readonly start: number
  settle(result: FunctionScaleResult): void
}

/**
 * One shared scale-up and readiness wait for a service; it lives only while someone waits.
 *
 * How a wake lives (one per service at a time, in `wakes`):
 * - `join`: the first caller of a service without a trusted ready status creates the wake
 *   and starts `run`; later callers join it. Each caller is a Waiter, settled exactly once.
 * - `run`: waits out a scale-down in progress, reads the status, and when no replica is ready
 *   and none is desired, asks for one (`scaleUp`, retried while nobody else scaled it); then
 *   waits for readiness by the provider's watch (with a slow re-read in case a push is lost)
 *   or by polling; on ready, every waiter settles `ready` together (`settleAll`).
 * - Every backend call made for the wake (`bounded`) gets the wake's signal and a deadline
 *   of `timeout` plus one poll interval: a call that hangs fails the wake, never wedges it.
 * - `leave`: a waiter whose signal aborts settles `aborted`; `expire` settles those past the
 *   timeout (one timer per wake: callers join in time order). When the last waiter leaves,
 *   at any point, the wake stops: the calls in flight are aborted and the next caller starts
 *   afresh. A scale-up already sent is not taken back; it is just not retried for nobody.
 * - `stop` forgets the wake, clears its timer and aborts whatever it still runs.
 *
 * Beside the wakes, a backend with `watch` keeps each service cached ready subscribed (bounded
 * by the cache size, in `kept`): its pushes keep the cache right, so an external scale-down is
 * known at once and a cached "ready" needs no re-read while watched.
 */
interface Wake {
  readonly name: string
  readonly namespace: string
  readonly start: number
  readonly waiters: Set<WaitingCaller>
  readonly controller: AbortController
  deadlineTimer: ReturnType<typeof setTimeout> | undefined
  /** Made on first request by wakeSettled, resolved by stop. */
  settled: { promise: Promise<void>; resolve: () => void } | undefined
}

/** A ready service kept subscribed to its backend's pushes while it is cached. */
interface KeptWatch {
  readonly name: string
  readonly namespace: string
  readonly controller: AbortController
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
  telemetry: Telemetry = createTelemetry(scalingConfig.observers),
  prerequisites?: Prerequisites,
): FunctionScaler {
  const config = resolveScalingConfig(scalingConfig)
  if (
    cache !== undefined &&
    (typeof cache?.get !== "function" ||
      typeof cache.set !== "function" ||
      typeof cache.meta !== "function" ||
      typeof cache.delete !== "function")
  ) {
    throw invalidOption("cache", "a FunctionCacher (from createFunctionCache)", cache)
  }
  const { functionPollInterval, timeout } = config
  const serviceQuery = telemetry.serviceQuery(config.serviceQuery)
  const { watch } = serviceQuery
  const keepWatch = config.watchCached ? watch : undefined
  const watchRecheckInterval = Math.max(functionPollInterval * WATCH_RECHECK_FACTOR, 1000)
  const onEvent = scalingConfig.onEvent
  const starts = createStartHistory()
  const emit: ScalingEventListener = (event) => {
    starts.observe(event)
    onEvent?.(event)
  }
  const functionCache = cache ?? createFunctionCache(config.cacheExpiry)
  const missing = new LruMap<string, number>(MAX_REMEMBERED_MISSING)
  const wakes = new Map<string, Wake>()
  const scaleDowns = new Map<string, Promise<boolean>>()
  const refreshes = new SingleFlight()
  // Calls no wake owns (background re-reads, scale-downs) are bounded by their deadline only:
  // an AbortController made now would belong to whichever request built the scaler (workerd).
  let closed = false
  // A kept watch dropped for the bound takes its cache entry along: a pushed entry never expires.
  const kept = new LruMap<string, KeptWatch>(
    functionCache.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES,
    (_key, dropped) => {
      dropped.controller.abort()
      functionCache.delete(dropped.name, dropped.namespace)
    },
  )
  let totalWaiting = 0

  const isKnownMissing = (name: string, namespace: string) => {
    const until = missing.peek(serviceKey(name, namespace))
    return until !== undefined && Date.now() < until
  }

  // While a service drains for its scale-down its replicas still answer "ready": caching that
  // would let new requests through, which must be held instead.
  const drainingReady = (key: string, status: ServiceQueryResponse) =>
    status.availableReplicas > 0 && scaleDowns.has(key)

  const unkeep = (key: string) => {
    const watched = kept.peek(key)
    if (watched === undefined) return
    kept.delete(key)
    watched.controller.abort()
  }

  const rememberMissing = (name: string, namespace: string) => {
    const key = serviceKey(name, namespace)
    unkeep(key)
    functionCache.delete(name, namespace)
    if (config.notFoundExpiry > 0) missing.set(key, Date.now() + config.notFoundExpiry)
  }

  /** Subscribes a service cached ready to its backend's pushes, which then keep its entry right. */
  const keep = (
    subscribe: NonNullable<ServiceQuery["watch"]>,
    name: string,
    namespace: string,
    key: string,
  ) => {
    const controller = new AbortController()
    kept.set(key, { name, namespace, controller })
    // The backend cannot tell this service's status any more: forget it, so the next request reads.
    const forget = () => {
      if (kept.peek(key)?.controller === controller) {
        kept.delete(key)
        functionCache.delete(name, namespace)
      }
      controller.abort()
    }
    try {
      subscribe.call(
        serviceQuery,
        name,
        namespace,
        (status) => {
          if (controller.signal.aborted || drainingReady(key, status)) return
          functionCache.set(name, namespace, status, true)
        },
        { signal: controller.signal, onError: forget },
      )
    } catch {
      forget()
    }
  }

  /**
   * Caches a status. Once a service of a watching backend is cached ready it stays subscribed,
   * and its statuses count as pushed: the first read after subscribing closes the gap between
   * the read that made the subscription and the subscription itself.
   */
  const remember = (name: string, namespace: string, status: ServiceQueryResponse) => {
    const key = serviceKey(name, namespace)
    missing.delete(key)
    if (drainingReady(key, status)) return
    const watched = kept.peek(key) !== undefined
    functionCache.set(name, namespace, status, watched)
    if (!watched && keepWatch !== undefined && status.availableReplicas > 0 && !closed) {
      keep(keepWatch, name, namespace, key)
    }
  }

  /**
   * Runs one backend call with `signal` and a deadline of `callTimeout`: aborted with the signal,
   * failed with a BackendError past the deadline (even by a backend that ignores its signal).
   */
  // A call's deadline outlasts the waiters' by one poll interval: a caller held through a call
  // that never answers gets its timeout (504), and the call is still bounded when nobody waits.
  const callTimeout = timeout + functionPollInterval
  const bounded = <T>(
    signal: AbortSignal | undefined,
    what: string,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const due = deadline(
        callTimeout,
        signal,
        () => new BackendError(`${what} gave no answer within ${callTimeout}ms`),
      )
      const onAbort = () => {
        due.release()
        reject(due.signal.reason)
      }
      if (due.signal.aborted) {
        onAbort()
        return
      }
      due.signal.addEventListener("abort", onAbort, { once: true })
      const done = () => {
        due.signal.removeEventListener("abort", onAbort)
        due.release()
      }
      let pending: Promise<T>
      try {
        pending = call(due.signal)
      } catch (error) {
        pending = Promise.reject(error)
      }
      pending.then(
        (value) => {
          done()
          resolve(value)
        },
        (error: unknown) => {
          done()
          reject(error)
        },
      )
    })

  const query = async (name: string, namespace: string, signal: AbortSignal | undefined) => {
    const status = await bounded(signal, `reading ${serviceKey(name, namespace)}`, (bound) =>
      serviceQuery.getReplicas(name, namespace, { signal: bound }),
    )
    if (!signal?.aborted && !closed) remember(name, namespace, status)
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

  /** One shared read of a service's status, remembering a not-found. */
  const read = async (name: string, namespace: string) => {
    try {
      return await refreshes.do(serviceKey(name, namespace), () =>
        query(name, namespace, undefined),
      )
    } catch (error) {
      if (hasErrorCode(error, ERROR_CODES.serviceNotFound)) rememberMissing(name, namespace)
      throw error
    }
  }

  const invalidName = (error: InvalidServiceNameError, start: number): FunctionScaleResult => ({
    outcome: "invalid-name",
    available: false,
    found: false,
    error,
    durationMs: Date.now() - start,
    coldStart: false,
  })

  /** Asks for max(minReplicas, 1) replicas, retrying while desired replicas stays 0. */
  const scaleUp = (wake: Wake, status: ServiceQueryResponse) => {
    const replicas = Math.max(status.minReplicas, DEFAULT_MIN_REPLICAS)
    return telemetry.scaleUp(wake.name, wake.namespace, replicas, () => askFor(wake, replicas))
  }

  const askFor = async (wake: Wake, replicas: number) => {
    const { name, namespace, controller } = wake
    const { signal } = controller
    emit({ type: "scale-up", service: name, namespace, replicas })
    let lastError: Error | undefined
    for (let attempt = 0; attempt < config.setScaleRetries; attempt++) {
      if (attempt > 0) {
        await sleep(functionPollInterval, signal)
        if ((await query(name, namespace, signal)).replicas > 0) return
      }
      try {
        await bounded(signal, `scaling ${serviceKey(name, namespace)}`, (bound) =>
          serviceQuery.setReplicas(name, namespace, replicas, { signal: bound }),
        )
        return
      } catch (error) {
        // Nobody waits any more (the wake stopped): the scale-up is not retried for nobody.
        if (signal.aborted || hasErrorCode(error, ERROR_CODES.serviceNotFound)) throw error
        lastError = asError(error)
      }
    }
    throw lastError ?? new Error(`scaling ${name}.${namespace} failed`)
  }

  // Reads timed by the service's recorded cold starts: sparse early, dense when it is due.
  const untilAvailableByPolling = async (wake: Wake) => {
    const { name, namespace, controller } = wake
    const key = serviceKey(name, namespace)
    for (;;) {
      const scaledUpAt = starts.scaleUpAt(key)
      const nextDelay =
        scaledUpAt === undefined
          ? () => functionPollInterval
          : pollSchedule(starts.recorded(key), functionPollInterval)
      for (;;) {
        await sleep(nextDelay(Date.now() - (scaledUpAt ?? 0)), controller.signal)
        const status = await query(name, namespace, controller.signal)
        if (status.availableReplicas > 0) return status
        // Scaled back to zero by someone else while we waited: ask again, on a new schedule.
        if (status.replicas === 0) {
          await scaleUp(wake, status)
          break
        }
      }
    }
  }

  const untilAvailableByWatch = (
    wake: Wake,
    subscribe: NonNullable<ServiceQuery["watch"]>,
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
        remember(name, namespace, status)
        if (status.availableReplicas > 0) finish(status)
      }
      controller.signal.addEventListener("abort", onWakeAbort, { once: true })
      try {
        subscribe.call(serviceQuery, name, namespace, onStatus, {
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
        // Dependencies first (or beside the service's own wake when `parallel`), each through
        // its own wake, shared with the other instances as this one is.
        const needs = prerequisites?.(name, namespace, status, controller.signal)
        // Awaited below in either case; handled now so a parallel failure is never unhandled.
        needs?.ready.catch(() => {})
        if (needs !== undefined && !needs.parallel) await needs.ready
        const known = status
        const wakeUp = async (fresh: boolean) => {
          // Taking over from an instance that went quiet: it may have scaled the service up.
          const current = fresh ? await query(name, namespace, controller.signal) : known
          if (current.availableReplicas > 0) return current
          if (current.replicas === 0) await scaleUp(wake, current)
          controller.signal.throwIfAborted()
          return telemetry.readiness(name, namespace, () =>
            watch !== undefined
              ? untilAvailableByWatch(wake, watch)
              : untilAvailableByPolling(wake),
          )
        }
        const { sharedWakes } = config
        status =
          sharedWakes === undefined
            ? await wakeUp(false)
            : await wakeWithOthers(
                sharedWakes,
                name,
                namespace,
                controller.signal,
                wakeUp,
                (error) => emit({ type: "error", service: name, namespace, error }),
              )
        controller.signal.throwIfAborted()
        if (needs?.parallel) await needs.ready
        // Published by another instance: this one's cache learns it here.
        remember(name, namespace, status)
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
    if (wake.waiters.size === 0) stop(wake)
  }

  /** A caller waiting on a wake; it is its own abort listener, so it costs no closures. */
  class Waiter implements WaitingCaller {
    constructor(
      readonly wake: Wake,
      readonly start: number,
      readonly signal: WaitSignal | undefined,
      readonly done: ScaleDone,
    ) {}

    handleEvent() {
      leave(this, unavailable("aborted", asError(this.signal?.reason), this.start))
    }

    settle(result: FunctionScaleResult) {
      this.signal?.removeEventListener("abort", this)
      totalWaiting--
      const { done } = this
      if (typeof done === "function") done(result)
      else done.scaleSettled(result)
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
    signal: WaitSignal | undefined,
    done: ScaleDone,
  ): void => {
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
        deadlineTimer: undefined,
        settled: undefined,
      }
      wakes.set(key, wake)
    }
    const waiter = new Waiter(wake, start, signal, done)
    wake.waiters.add(waiter)
    totalWaiting++
    signal?.addEventListener("abort", waiter, { once: true })
    armDeadline(wake)
    if (isNew) void run(wake)
  }

  /** How `scale` ends without a wait (warm, invalid, known missing, aborted), else undefined. */
  const endsAtOnce = (
    name: string,
    namespace: string,
    start: number,
    signal: WaitSignal | undefined,
  ): FunctionScaleResult | undefined => {
    // Checked here too, not only by the gate: no caller's name reaches the backend unchecked.
    const invalid = checkTarget(name, namespace)
    if (invalid !== undefined) return invalidName(invalid, start)
    const cached = functionCache.get(name, namespace)
    if (cached.hit && cached.response !== undefined && cached.response.availableReplicas > 0) {
      return WARM
    }
    if (isKnownMissing(name, namespace)) return notFound(name, namespace, start)
    if (signal?.aborted) return unavailable("aborted", asError(signal.reason), start)
    return undefined
  }

  const scaler: FunctionScaler & HeldScaling = {
    config,
    cache: functionCache,
    starts,
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
      const key = serviceKey(name, namespace)
      if (scaleDowns.has(key) || checkTarget(name, namespace) !== undefined) return
      read(name, namespace).catch((error: unknown) => {
        if (closed || hasErrorCode(error, ERROR_CODES.serviceNotFound)) return
        emit({ type: "error", service: name, namespace, error: asError(error) })
      })
    },
    read,
    scale(name, namespace, options = {}) {
      const start = Date.now()
      const { signal } = options
      const atOnce = endsAtOnce(name, namespace, start, signal)
      if (atOnce !== undefined) return Promise.resolve(atOnce)
      return new Promise((resolve) => join(name, namespace, start, signal, resolve))
    },
    [scaleThen](name, namespace, signal, done) {
      const start = Date.now()
      const atOnce = endsAtOnce(name, namespace, start, signal)
      if (atOnce === undefined) join(name, namespace, start, signal, done)
      else done.scaleSettled(atOnce)
    },
    scaleDown(name, namespace, options = {}) {
      const invalid = checkTarget(name, namespace)
      if (invalid !== undefined) return Promise.reject(invalid)
      const key = serviceKey(name, namespace)
      if (wakes.has(key) || scaleDowns.has(key)) return Promise.resolve(false)
      const last = functionCache.meta(name, namespace)?.serviceQueryResponse
      // From now on the gateway holds this service's requests instead of forwarding them.
      functionCache.set(
        name,
        namespace,
        {
          minReplicas: DEFAULT_MIN_REPLICAS,
          maxReplicas: DEFAULT_MAX_REPLICAS,
          scalingFactor: DEFAULT_SCALING_FACTOR,
          ...last,
          replicas: 0,
          availableReplicas: 0,
        },
        kept.peek(key) !== undefined,
      )
      const { drain } = options
      const scaling = (drain === undefined ? Promise.resolve() : drain().catch(() => {}))
        .then(() =>
          bounded(undefined, `scaling ${key} to zero`, (bound) =>
            serviceQuery.setReplicas(name, namespace, 0, { signal: bound }),
          ),
        )
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
      closed = true
      // Nothing keeps the cache right any more: a pushed entry must not stay trusted.
      for (const key of [...kept.keys()]) {
        const watched = kept.peek(key)
        unkeep(key)
        if (watched !== undefined) functionCache.delete(watched.name, watched.namespace)
      }
    },
  }
  return scaler
}

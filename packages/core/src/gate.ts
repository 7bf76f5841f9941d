import { asError, type WaitSignal } from "./abortable.js"
import { freshnessClock } from "./clock.js"
import {
  ERROR_CODES,
  type ErrorCode,
  hasErrorCode,
  OverloadedError,
  ScaleTimeoutError,
} from "./errors.js"
import { serviceKey } from "./function-cache.js"
import {
  type FunctionScaleResult,
  type FunctionScaler,
  type HeldScaling,
  type ScaleOutcome,
  type ScaleSettled,
  scaleThen,
} from "./function-scaler.js"
import { createShared, namespaceOption, type SharedState } from "./gate-shared.js"
import type {
  Gate,
  GateHold,
  GateOptions,
  GatePass,
  GateReply,
  GateRequest,
  PrewarmHint,
  RequestPredicate,
  RoutePolicy,
  ScaleFromZeroOptions,
  WaitingPageOptions,
} from "./gate-types.js"
import { LruMap } from "./lru.js"
import { checkTarget, getNamespace, recentTarget, resolveOpenFaaSPath } from "./names.js"
import type { HoldOutcome, RequestVerdict } from "./observer.js"
import { invalidOption, numberOption } from "./options.js"
import { type RefusalFormat, refusalFormat, refusalReply } from "./refusal.js"
import { ADMIT_WARM, type WarmAdmit } from "./reused-view.js"
import type { HoldTelemetry } from "./telemetry.js"
import type { ServiceQueryResponse } from "./types.js"
import {
  prefersHtml,
  renderWaitingPage,
  WAITING_PAGE_HEADER,
  waitingPageHead,
} from "./waiting-page.js"

export type * from "./gate-types.js"

export const DEFAULT_MAX_WAITING = 10_000
/** nginx's status for a client that closed the connection; no client ever reads it. */
export const CLIENT_CLOSED_REQUEST = 499

const PASS: GatePass = Object.freeze({ kind: "pass" })
const NOTHING_OPEN = () => {}

/** The `Server-Timing` header value for a request held `ms` while its service woke. */
export function coldStartServerTiming(ms: number): string {
  return `cold-start;dur=${ms}`
}

type Refusal = (
  name: string,
  namespace: string,
  error: Error | undefined,
  signal: WaitSignal,
  format: RefusalFormat,
) => GateReply

const PAGE_DUE = Symbol("waiting page due")

function waitingPageSettings(settings: WaitingPageOptions = {}) {
  if (typeof settings !== "object" || settings === null) {
    throw invalidOption("waitingPage", "false or { afterMs?, refreshSeconds?, render? }", settings)
  }
  return {
    render: settings.render ?? renderWaitingPage,
    afterMs: numberOption("waitingPage.afterMs", settings.afterMs, 2000, "non-negative integer"),
    refreshSeconds: numberOption(
      "waitingPage.refreshSeconds",
      settings.refreshSeconds,
      1,
      "non-negative integer",
    ),
  }
}

function functionOption(option: string, value: unknown): RequestPredicate | undefined {
  if (value === undefined || typeof value === "function") return value as RequestPredicate
  throw invalidOption(option, "a function", value)
}

/** The shared state behind each gate, for the gates built over it (`{ gate }`). */
const SHARED = new WeakMap<Gate, SharedState>()

/** Options that belong to the shared gate: given beside `gate`, they would be silently ignored. */
const SHARED_ONLY = [
  "serviceQuery",
  "scaleToZero",
  "scaleOut",
  "countInFlight",
  "sharedWakes",
  "dependencies",
  "keepWarm",
  "onEvent",
  "observers",
  "maxPollCount",
  "functionPollInterval",
  "cacheExpiry",
  "maxStaleMs",
  "watchCached",
  "setScaleRetries",
  "notFoundExpiry",
] as const

interface Hint {
  readonly path: string | undefined
  readonly when: RequestPredicate | undefined
  readonly services: readonly { readonly name: string; readonly namespace: string }[]
}

function prewarmOption(value: unknown, defaultNamespace: string): Hint[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value))
    throw invalidOption("prewarm", "an array of { path | when, services }", value)
  return value.map((hint: PrewarmHint, i) => {
    const at = `prewarm[${i}]`
    if (typeof hint !== "object" || hint === null)
      throw invalidOption(at, "{ path | when, services }", hint)
    if (hint.path !== undefined && typeof hint.path !== "string") {
      throw invalidOption(`${at}.path`, "a path prefix", hint.path)
    }
    const when = functionOption(`${at}.when`, hint.when)
    if (hint.path === undefined && when === undefined) {
      throw invalidOption(at, "a hint with a path or a when predicate", hint)
    }
    if (!Array.isArray(hint.services) || hint.services.length === 0) {
      throw invalidOption(`${at}.services`, "a non-empty array of service names", hint.services)
    }
    const services = hint.services.map((full: unknown) => {
      const [name, namespace] = getNamespace(defaultNamespace, String(full))
      if (typeof full !== "string" || checkTarget(name, namespace) !== undefined) {
        throw invalidOption(`${at}.services`, "service names", full)
      }
      return { name, namespace }
    })
    return { path: hint.path, when, services }
  })
}

/**
 * The gate a middleware puts in front of its routes. With `{ gate }` it shares that gate's
 * wakes, cache, counts and idle tracking and applies its own policy (timeout, waiting page,
 * limits, predicates, hints); without, it makes its own shared state from the options.
 */
export function createGate(options: GateOptions): Gate {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("options", "an object such as { serviceQuery }", options)
  }
  if ("gate" in options && options.gate !== undefined) {
    const shared = SHARED.get(options.gate)
    if (shared === undefined) {
      throw invalidOption("gate", "a gate from createGate (or a middleware's .gate)", options.gate)
    }
    for (const option of SHARED_ONLY) {
      const value = (options as unknown as Record<string, unknown>)[option]
      if (value !== undefined) {
        throw invalidOption(option, "left out beside gate (the shared gate's applies)", value)
      }
    }
    return routeGate(shared, options, false)
  }
  const own = options as ScaleFromZeroOptions
  return routeGate(createShared(own), own, true)
}

function routeGate(shared: SharedState, policy: RoutePolicy, owner: boolean): Gate {
  const { scaler, idle, scaleOut, telemetry, tracker, starts, emit } = shared
  const defaultNamespace =
    policy.defaultNamespace === undefined
      ? shared.defaultNamespace
      : namespaceOption(policy.defaultNamespace)
  const resolve = policy.resolve ?? resolveOpenFaaSPath
  if (typeof resolve !== "function") throw invalidOption("resolve", "a function", resolve)
  const maxWaiting = numberOption(
    "maxWaiting",
    policy.maxWaiting,
    DEFAULT_MAX_WAITING,
    "non-negative integer",
  )
  const maxWaitingPerService = numberOption(
    "maxWaitingPerService",
    policy.maxWaitingPerService,
    maxWaiting,
    "non-negative integer",
  )
  const retryAfterSeconds = numberOption("retryAfter", policy.retryAfter, 1, "non-negative integer")
  const retryAfter = { "retry-after": String(retryAfterSeconds) }
  const page = policy.waitingPage === false ? undefined : waitingPageSettings(policy.waitingPage)
  const known = (name: string, namespace: string) => scaler.peek(name, namespace) !== undefined
  const wake = functionOption("wake", policy.wake)
  const keepsAwake = functionOption("keepsAwake", policy.keepsAwake)
  const hints = prewarmOption(policy.prewarm, defaultNamespace)
  const { cache } = scaler
  // Made by createShared's createFunctionScaler, which settles a held request directly.
  const heldScaler = scaler as FunctionScaler & HeldScaling
  const { cacheExpiry, maxStaleMs } = scaler.config
  // The cache's ages in the clock's unit, made once: the warm check compares, never converts.
  const expiry = freshnessClock.span(cacheExpiry)
  const trusted = freshnessClock.span(cacheExpiry + maxStaleMs)
  const sharedTimeout = scaler.config.timeout
  const timeout = owner
    ? sharedTimeout
    : numberOption("timeout", policy.timeout, sharedTimeout, "positive")
  if (timeout > sharedTimeout) {
    throw invalidOption("timeout", `at most the shared gate's timeout (${sharedTimeout})`, timeout)
  }
  // Holds bounded by this middleware (its own timeout, its own close) get a signal of their own.
  const ownSignals = !owner
  const openHolds = new Set<AbortController>()
  // Held by this middleware now, in all and by service (its limits are its own).
  let held = 0
  const heldByService = new Map<string, number>()
  // When each service began waking for browsers shown the page: its reloads are new requests.
  const pageShownSince = new LruMap<string, number>(1000)
  /**
   * Wakes that ended after their browser was shown the page: the next request for the service
   * (within a timeout) carries their cold start. The warm path reads only the map's size.
   */
  const pageWakes = new Map<string, { durationMs: number; timer: ReturnType<typeof setTimeout> }>()

  const about = (code: ErrorCode, name: string, namespace: string) => ({
    code,
    service: name,
    namespace,
  })

  const notFound = (format: RefusalFormat, name: string, namespace: string, reason: string) =>
    refusalReply(
      format,
      404,
      `error finding function ${name}.${namespace}: ${reason}`,
      about(ERROR_CODES.serviceNotFound, name, namespace),
    )

  const backendError = (
    format: RefusalFormat,
    name: string,
    namespace: string,
    error: Error | undefined,
  ) => {
    const code = (error as { code?: unknown } | undefined)?.code
    return refusalReply(
      format,
      502,
      `error scaling function ${name}.${namespace}: ${error?.message ?? "unknown error"}`,
      about(typeof code === "string" ? (code as ErrorCode) : ERROR_CODES.backend, name, namespace),
    )
  }

  const asleep = (format: RefusalFormat, name: string, namespace: string) =>
    refusalReply(
      format,
      503,
      `service ${name}.${namespace} is asleep: this request does not wake it`,
      about(ERROR_CODES.asleep, name, namespace),
      retryAfter,
    )

  const invalidTarget = (format: RefusalFormat, name: string, namespace: string, message: string) =>
    refusalReply(format, 400, message, about(ERROR_CODES.invalidServiceName, name, namespace))

  /** The pass for a ready service: counted in flight when the gate tracks it. */
  const readyPass = (name: string, namespace: string, counts: boolean) => {
    const status = idle && counts && scaler.peek(name, namespace)
    return status ? idle.track(name, namespace, status) : undefined
  }

  /** For a request that may not wake the service: pass if it is ready now, else "asleep". */
  const withoutWaking = async (hold: GateHold): Promise<GatePass | GateReply> => {
    const { name, namespace, format } = hold
    try {
      const status = await scaler.read(name, namespace)
      if (status.availableReplicas === 0) return asleep(format, name, namespace)
    } catch (error) {
      if (hasErrorCode(error, ERROR_CODES.serviceNotFound)) {
        return notFound(format, name, namespace, "not found")
      }
      return backendError(format, name, namespace, asError(error))
    }
    return readyPass(name, namespace, hold.keepsAwake)?.pass ?? PASS
  }

  const shed = (
    format: RefusalFormat,
    name: string,
    namespace: string,
    max: number,
    scope: "gateway" | "service",
  ) => {
    emit({ type: "shed", service: name, namespace, limit: max, scope })
    return refusalReply(
      format,
      503,
      new OverloadedError(name, namespace, max, scope).message,
      about(ERROR_CODES.overloaded, name, namespace),
      retryAfter,
    )
  }

  /** Wakes a hinted service in the background, unless it is ready or waking already. */
  const prewarm = (request: GateRequest, list: Hint[]) => {
    for (const hint of list) {
      const matches =
        (hint.path !== undefined && request.path.startsWith(hint.path)) ||
        hint.when?.(request) === true
      if (!matches) continue
      for (const { name, namespace } of hint.services) {
        const meta = cache.meta(name, namespace)
        const ready =
          meta !== undefined &&
          meta.serviceQueryResponse.availableReplicas > 0 &&
          !meta.expired(expiry)
        if (!ready && scaler.waiting(name, namespace) === 0) void shared.wake(name, namespace)
      }
    }
  }

  const rememberPageWake = (name: string, namespace: string, durationMs: number) => {
    const key = serviceKey(name, namespace)
    clearTimeout(pageWakes.get(key)?.timer)
    const timer = setTimeout(() => pageWakes.delete(key), timeout)
    pageWakes.set(key, { durationMs, timer })
  }

  /** A pass carrying the cold start of a wake a browser was shown the page for, once. */
  const pageWakePass = (name: string, namespace: string, status: ServiceQueryResponse) => {
    const key = serviceKey(name, namespace)
    const woke = pageWakes.get(key)
    if (woke === undefined) return undefined
    clearTimeout(woke.timer)
    pageWakes.delete(key)
    return coldPass(name, namespace, status, woke.durationMs)
  }

  const coldPass = (
    name: string,
    namespace: string,
    status: ServiceQueryResponse | undefined,
    coldStartMs: number,
  ): GatePass => {
    const inFlight = idle && status ? idle.track(name, namespace, status) : undefined
    return inFlight === undefined
      ? { kind: "pass", coldStartMs }
      : { kind: "pass", coldStartMs, inFlight }
  }

  /**
   * scaler.scale for a browser: answers PAGE_DUE after `afterMs`, the page's cue. The wake
   * then goes on to its end, bounded by the timeout, detached from the client (whose reloads
   * are new requests): its `ready` is emitted, and the next request carries its cold start.
   * A browser that leaves before the page is due leaves like any client.
   */
  const scaleForBrowser = (
    name: string,
    namespace: string,
    signal: WaitSignal,
    afterMs: number,
  ): Promise<FunctionScaleResult | typeof PAGE_DUE> =>
    new Promise((resolve) => {
      const own = new AbortController()
      const onAbort = () => own.abort(signal.reason)
      let shown = false
      const timer = setTimeout(() => {
        shown = true
        signal.removeEventListener("abort", onAbort)
        resolve(PAGE_DUE)
      }, afterMs)
      if (signal.aborted) onAbort()
      else signal.addEventListener("abort", onAbort, { once: true })
      void scaler.scale(name, namespace, { signal: own.signal }).then((result) => {
        if (!shown) {
          clearTimeout(timer)
          signal.removeEventListener("abort", onAbort)
          resolve(result)
        } else if (result.outcome === "ready" && result.coldStart) {
          rememberPageWake(name, namespace, result.durationMs)
        }
      })
    })

  const waitingPage = (
    name: string,
    namespace: string,
    start: number,
    settings: ReturnType<typeof waitingPageSettings>,
  ): GateReply => {
    const key = serviceKey(name, namespace)
    let since = pageShownSince.peek(key)
    if (since === undefined || Date.now() - since > timeout) {
      since = start
      pageShownSince.set(key, since)
    }
    // From the scale-up this gateway asked for, when it did; else from the first page shown.
    const elapsedMs = Date.now() - (starts.scaleUpAt(key) ?? since)
    const typicalStartMs = starts.typical(key)
    const { refreshSeconds } = settings
    const body = settings.render({
      name,
      namespace,
      elapsedMs,
      typicalStartMs,
      refreshSeconds,
      head: waitingPageHead(elapsedMs, typicalStartMs, refreshSeconds),
    })
    return {
      kind: "reply",
      status: 503,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        [WAITING_PAGE_HEADER]: "waiting",
        ...retryAfter,
      },
      body,
    }
  }

  const timedOut = (format: RefusalFormat, name: string, namespace: string, error?: Error) =>
    refusalReply(
      format,
      504,
      error?.message ?? "timed out",
      about(ERROR_CODES.scaleTimeout, name, namespace),
      retryAfter,
    )

  /** The answer to each way a wait can end without a ready replica: one function per status. */
  const refusals: Record<Exclude<ScaleOutcome, "ready">, Refusal> = {
    "invalid-name": (name, namespace, error, _signal, format) =>
      invalidTarget(format, name, namespace, error?.message ?? "invalid name"),
    "not-found": (name, namespace, _error, _signal, format) =>
      notFound(format, name, namespace, "not found"),
    timeout: (name, namespace, error, _signal, format) => timedOut(format, name, namespace, error),
    // The client left (nobody reads the answer), this middleware's own timeout, or the gate
    // was closed under a held request.
    aborted: (name, namespace, error, signal, format) => {
      if (signal.aborted)
        return refusalReply(
          "text",
          CLIENT_CLOSED_REQUEST,
          "client closed request",
          about(ERROR_CODES.shuttingDown, name, namespace),
        )
      if (hasErrorCode(error, ERROR_CODES.scaleTimeout)) {
        return timedOut(format, name, namespace, error)
      }
      return refusalReply(
        format,
        503,
        "the gateway is shutting down",
        about(ERROR_CODES.shuttingDown, name, namespace),
        retryAfter,
      )
    },
    "backend-error": (name, namespace, error, _signal, format) =>
      backendError(format, name, namespace, error),
  }

  /** A signal for one hold that also ends at this middleware's own timeout or close. */
  const ownHoldSignal = (name: string, namespace: string, signal: WaitSignal) => {
    const controller = new AbortController()
    const onAbort = () => controller.abort(signal.reason)
    const timer = setTimeout(() => {
      emit({ type: "timeout", service: name, namespace, timeoutMs: timeout })
      controller.abort(new ScaleTimeoutError(name, namespace, timeout))
    }, timeout)
    if (signal.aborted) onAbort()
    else signal.addEventListener("abort", onAbort, { once: true })
    openHolds.add(controller)
    return {
      signal: controller.signal,
      release() {
        clearTimeout(timer)
        signal.removeEventListener("abort", onAbort)
        openHolds.delete(controller)
      },
    }
  }

  /** Ends a hold's telemetry with its answer, and returns the answer. */
  const ended = (
    observed: HoldTelemetry,
    hold: GateHold,
    answer: GatePass | GateReply,
    outcome: HoldOutcome,
    durationMs: number,
    coldStart: boolean,
  ) => {
    const verdict = answer.kind === "pass" ? "held" : (String(answer.status) as RequestVerdict)
    observed.end(outcome, verdict, durationMs, coldStart, known(hold.name, hold.namespace))
    return answer
  }

  /**
   * One held request, from its count to its answer. The scaler settles it directly
   * (`scaleThen`): all a held request keeps here is this object and its promise, no async frame.
   */
  class HeldWait implements ScaleSettled {
    constructor(
      private readonly hold: GateHold,
      private readonly signal: WaitSignal,
      private readonly observed: HoldTelemetry,
      private readonly own: ReturnType<typeof ownHoldSignal> | undefined,
      private readonly resolve: (answer: GatePass | GateReply | Promise<never>) => void,
    ) {}

    scaleSettled(result: FunctionScaleResult): void {
      this.settle(result, result.durationMs)
    }

    /** Answers the request; a throwing observer rejects its wait, never the scaler's others. */
    settle(result: FunctionScaleResult | typeof PAGE_DUE, durationMs: number): void {
      try {
        this.resolve(this.answer(result, durationMs))
      } catch (error) {
        this.resolve(Promise.reject(error))
      }
    }

    /** Uncounts the hold: its own signal released, the gate's and the service's counts down. */
    release(): void {
      const { name, namespace } = this.hold
      this.own?.release()
      held--
      const key = serviceKey(name, namespace)
      const left = (heldByService.get(key) ?? 1) - 1
      if (left === 0) heldByService.delete(key)
      else heldByService.set(key, left)
    }

    private answer(
      result: FunctionScaleResult | typeof PAGE_DUE,
      durationMs: number,
    ): GatePass | GateReply {
      this.release()
      const { hold, observed } = this
      const { name, namespace } = hold
      // Only scaleForBrowser answers PAGE_DUE, and it runs only with the page's settings.
      if (result === PAGE_DUE) {
        const reply = waitingPage(name, namespace, Date.now() - durationMs, page!)
        return ended(observed, hold, reply, "waiting-page", durationMs, true)
      }
      if (hold.browser && page !== undefined) {
        pageShownSince.delete(serviceKey(name, namespace))
      }
      const outcome =
        result.outcome === "aborted" && hasErrorCode(result.error, ERROR_CODES.scaleTimeout)
          ? "timeout"
          : result.outcome
      const answer = verdictOf(hold, result, this.signal)
      return ended(observed, hold, answer, outcome, durationMs, result.coldStart)
    }
  }

  /** The hold itself: shed past the limits, else counted and settled by the scaler. */
  const holdUntilReady = (hold: GateHold, signal: WaitSignal, observed: HoldTelemetry) =>
    new Promise<GatePass | GateReply>((resolve) => {
      const { name, namespace, format } = hold
      const key = serviceKey(name, namespace)
      const heldNow = heldByService.get(key) ?? 0
      if (held >= maxWaiting || heldNow >= maxWaitingPerService) {
        const answer =
          held >= maxWaiting
            ? shed(format, name, namespace, maxWaiting, "gateway")
            : shed(format, name, namespace, maxWaitingPerService, "service")
        resolve(ended(observed, hold, answer, "overloaded", 0, false))
        return
      }
      held++
      heldByService.set(key, heldNow + 1)
      const own = ownSignals ? ownHoldSignal(name, namespace, signal) : undefined
      const waiting = new HeldWait(hold, signal, observed, own, resolve)
      const waitSignal = own?.signal ?? signal
      try {
        if (hold.browser && page !== undefined) {
          const start = Date.now()
          void scaleForBrowser(name, namespace, waitSignal, page.afterMs).then((result) =>
            waiting.settle(result, Date.now() - start),
          )
        } else heldScaler[scaleThen](name, namespace, waitSignal, waiting)
      } catch (error) {
        waiting.release()
        throw error
      }
    })

  /** What a held request gets once its wait is over. */
  const verdictOf = (
    hold: GateHold,
    result: FunctionScaleResult,
    signal: WaitSignal,
  ): GatePass | GateReply => {
    const { name, namespace } = hold
    if (result.outcome !== "ready") {
      return refusals[result.outcome](name, namespace, result.error, signal, hold.format)
    }
    if (!result.coldStart) return readyPass(name, namespace, hold.keepsAwake)?.pass ?? PASS
    const status = idle && hold.keepsAwake ? scaler.peek(name, namespace) : undefined
    return coldPass(name, namespace, status, result.durationMs)
  }

  /**
   * The pass of a request for a cached, ready service that may pass now (fresh, or stale but
   * recent: then re-read in the background), or undefined when the gate must look further.
   * `request` is read only by `keepsAwake`.
   */
  const warmPass = (
    request: GateRequest | undefined,
    name: string,
    namespace: string,
  ): GatePass | undefined => {
    // Only valid names are ever cached, so a cached service needs no validation.
    const meta = cache.meta(name, namespace)
    if (meta === undefined || !(meta.serviceQueryResponse.availableReplicas > 0)) return undefined
    const freshness = meta.freshness(expiry, trusted)
    // Stale but recent: pass now and re-read in the background, so a ready service never
    // waits. Older than maxStaleMs, it is not trusted: the request waits for a fresh read
    // (one per service, shared), and is held and woken if the service went away meanwhile.
    if (freshness === "expired") return undefined
    if (freshness === "stale") scaler.refresh(name, namespace)
    telemetry.passed(name, namespace)
    const status = meta.serviceQueryResponse
    if (pageWakes.size !== 0) {
      const cold = pageWakePass(name, namespace, status)
      if (cold !== undefined) return cold
    }
    if (idle === undefined || (keepsAwake !== undefined && !keepsAwake(request as GateRequest))) {
      return PASS
    }
    scaleOut?.ensureRunning()
    return idle.track(name, namespace, status)?.pass ?? PASS
  }

  const gate: Gate & WarmAdmit = {
    scaler,
    admit(request) {
      if (hints !== undefined) prewarm(request, hints)
      const target = resolve(request)
      if (target === undefined) return PASS
      const { name } = target
      const namespace = target.namespace ?? defaultNamespace
      const warm = warmPass(request, name, namespace)
      if (warm !== undefined) return warm
      const format = refusalFormat(request.headers)
      const invalid = checkTarget(name, namespace)
      if (invalid !== undefined) {
        telemetry.refused("400", name, namespace, false)
        return invalidTarget(format, name, namespace, invalid.message)
      }
      if (scaler.isKnownMissing(name, namespace)) {
        telemetry.refused("404", name, namespace, false)
        return notFound(format, name, namespace, "not found")
      }
      const wakes = wake === undefined || wake(request)
      // Known to be down: no need to ask the backend again to refuse.
      const meta = cache.meta(name, namespace)
      if (!wakes && meta !== undefined && !meta.expired(expiry)) {
        return asleep(format, name, namespace)
      }
      return {
        kind: "hold",
        name,
        namespace,
        browser: prefersHtml(request.method, request.headers),
        format,
        wakes,
        keepsAwake: idle === undefined || keepsAwake === undefined || keepsAwake(request),
      }
    },
    // What admit gives a request whose path names a recently resolved service that passes warm,
    // with no GateRequest made: only where admit reads nothing else of the request.
    [ADMIT_WARM]:
      hints === undefined &&
      resolve === resolveOpenFaaSPath &&
      (idle === undefined || keepsAwake === undefined)
        ? (source, offset) => {
            const target = recentTarget(source, offset)
            if (target === undefined) return undefined
            return warmPass(undefined, target.name, target.namespace ?? defaultNamespace)
          }
        : undefined,
    wait(hold, signal) {
      const { name, namespace } = hold
      if (!hold.wakes) return withoutWaking(hold)
      scaleOut?.ensureRunning()
      const observed = telemetry.hold(name, namespace, known(name, namespace))
      return observed.within(() => holdUntilReady(hold, signal, observed))
    },
    async rewake(request, signal) {
      const target = resolve(request)
      if (target === undefined) return undefined
      const { name } = target
      const namespace = target.namespace ?? defaultNamespace
      const format = refusalFormat(request.headers)
      const invalid = checkTarget(name, namespace)
      if (invalid !== undefined) return invalidTarget(format, name, namespace, invalid.message)
      // The cached "ready" just proved wrong: the wake reads the status afresh.
      cache.delete(name, namespace)
      return gate.wait(
        { kind: "hold", name, namespace, browser: false, format, wakes: true, keepsAwake: true },
        signal,
      )
    },
    finished(pass) {
      pass.inFlight?.finished()
    },
    status: () => tracker.status(scaler, idle),
    wake: (name, namespace = defaultNamespace) => shared.wake(name, namespace),
    sleep: (name, namespace = defaultNamespace, options) => shared.sleep(name, namespace, options),
    open(pass, traffic) {
      return pass.inFlight === undefined ? NOTHING_OPEN : pass.inFlight.open(traffic)
    },
    checkIdle: () => shared.checkIdle(),
    close() {
      const closing = new DOMException("the gateway is shutting down", "AbortError")
      for (const controller of [...openHolds]) controller.abort(closing)
      for (const { timer } of pageWakes.values()) clearTimeout(timer)
      pageWakes.clear()
      if (owner) shared.close()
    },
  }
  SHARED.set(gate, shared)
  return gate
}

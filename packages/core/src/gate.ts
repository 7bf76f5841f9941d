import { asError } from "./abortable.js"
import { DEFAULT_NAMESPACE } from "./constants.js"
import { ERROR_CODES, hasErrorCode, OverloadedError } from "./errors.js"
import { serviceKey } from "./function-cache.js"
import {
  createFunctionScaler,
  type FunctionScaleResult,
  type FunctionScaler,
  type ScaleOutcome,
  type ScalingConfig,
} from "./function-scaler.js"
import { createIdleTracker, type ScaleToZeroOptions } from "./idle-scale-down.js"
import { LruMap } from "./lru.js"
import { checkNamespace, checkTarget, getServiceNameFromPath } from "./names.js"
import type { HoldOutcome, RequestVerdict } from "./observer.js"
import { invalidOption, numberOption } from "./options.js"
import { createScaleOut, type ScaleOutOptions } from "./scale-out.js"
import { createStatusTracker, type ServiceStatus } from "./status.js"
import { createTelemetry } from "./telemetry.js"
import type { ServiceQueryResponse } from "./types.js"
import {
  createStartHistory,
  prefersHtml,
  renderWaitingPage,
  WAITING_PAGE_HEADER,
  type WaitingPageInfo,
  waitingPageHead,
} from "./waiting-page.js"

/** Reads one request header, case-insensitively (`Headers`, or an adapter's own view). */
export interface HeaderReader {
  get(name: string): string | null | undefined
}

/** What the gate needs of a request, whatever the framework. */
export interface GateRequest {
  method: string
  /** Path and query, as sent: `/function/echo/hello?x=1`. */
  path: string
  headers: HeaderReader
}

export interface ServiceTarget {
  name: string
  /** Defaults to the gate's `defaultNamespace`. */
  namespace?: string
}

/** Maps a request to the service it needs, or undefined to let it pass untouched. */
export type ServiceResolver = (request: GateRequest) => ServiceTarget | undefined

/** Decides something about one request: see `wake` and `keepsAwake`. */
export type RequestPredicate = (request: GateRequest) => boolean

export interface ScaleFromZeroOptions extends ScalingConfig {
  /**
   * Namespace of a service whose name carries none. Default: the backend's own
   * (`serviceQuery.defaultNamespace`, e.g. `default` for the process and Docker backends), else
   * `openfaas-fn`.
   */
  defaultNamespace?: string
  /** Default: OpenFaaS paths, `/function/NAME[.NAMESPACE]/...` and `/async-function/...`. */
  resolve?: ServiceResolver
  /** Requests held at once across all services before new ones get 503. Default 10 000. */
  maxWaiting?: number
  /** Requests held at once for one service before new ones get 503. Default `maxWaiting`. */
  maxWaitingPerService?: number
  /** Seconds sent in `Retry-After` with 503 and 504 answers. Default 1. */
  retryAfter?: number
  /**
   * Browser navigations (GET/HEAD accepting text/html) to a cold service are held `afterMs`,
   * then answered with a waiting page (503) that turns into the service once it is ready;
   * API clients are always held. `false` holds browsers too.
   */
  waitingPage?: false | WaitingPageOptions
  /**
   * Idle scale-to-zero: once a service's last request has ended and it stays idle for its
   * `com.openfaas.scale.zero-duration` (or `idleAfterMs`), it is scaled to 0 — only services
   * labelled `com.openfaas.scale.zero=true`, unless `allServices`. Adapters then count every
   * request to such a service in flight until its response ends. Off by default.
   */
  scaleToZero?: ScaleToZeroOptions
  /**
   * Concurrency scale-out: every `intervalMs`, a ready service's replicas are stepped toward
   * ceil((held + in flight) / `targetConcurrency`), within its min and max labels, by
   * ceil(max × scaling factor / 100) per step; in only after `scaleInAfterMs` below. Never to
   * zero (idle scale-down's job). Adapters then count every request in flight. Off by default.
   */
  scaleOut?: ScaleOutOptions
  /**
   * Count every service's requests in flight (for `gate.status()` and the KEDA scaler), not only
   * those of services idle scale-down watches. Implied by `scaleOut`. Default false.
   */
  countInFlight?: boolean
  /**
   * Whether a request may wake a service with no ready replica. A request it refuses is
   * answered 503 with `Retry-After` ("asleep") and nothing is started; on a ready service it
   * passes. Default: every request wakes. `notMonitoring` keeps health checks and uptime
   * monitors from waking services.
   */
  wake?: RequestPredicate
  /**
   * Whether a request that passes counts as activity for idle scale-down (`scaleToZero`).
   * One it refuses passes but neither keeps the service up nor delays its scale-down.
   * Called only while `scaleToZero` is on. Default: every request counts.
   */
  keepsAwake?: RequestPredicate
}

/**
 * Counters that grow while a connection carries data, read by `scaleToZero.connectionIdleMs`.
 * A Node `net.Socket` is one; the web bridge keeps its own for a streamed body or a WebSocket.
 */
export interface Traffic {
  readonly bytesRead: number
  readonly bytesWritten: number
}

/** How browsers are shown a service that is starting. */
export interface WaitingPageOptions {
  /** Milliseconds a browser navigation is held before it gets the page. Default 2000. */
  afterMs?: number
  /**
   * Seconds between reloads of the page in a browser without JavaScript (with JavaScript the
   * page waits for the service itself and reloads once, when it is ready). Default 1.
   */
  refreshSeconds?: number
  /**
   * Renders the page, to theme it: gets the service's name, the time so far, its typical
   * cold start and the `head` markup that keeps the page live. Default `renderWaitingPage`.
   */
  render?: (info: WaitingPageInfo) => string
}

/** Forward the request; `coldStartMs` is set when it was held while the service woke. */
export interface GatePass {
  readonly kind: "pass"
  readonly coldStartMs?: number
  /**
   * Set when the gate counts this request as in flight (idle scale-down is on):
   * the adapter calls `gate.finished(pass)` once, when the response has ended or the
   * connection closed. Absent on the untracked warm path, which then costs no listener.
   */
  readonly inFlight?: InFlight
}

/** A request counted in flight for its service. */
export interface InFlight {
  readonly name: string
  readonly namespace: string
  /** Counts the request's end; called by gate.finished. */
  finished(): void
  /** Counts the request as an open connection until the returned function is called: see `Gate.open`. */
  open(traffic: Traffic): () => void
}

/** Answer the request with this instead of forwarding it. */
export interface GateReply {
  readonly kind: "reply"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The service has no ready replica: call `gate.wait` with the client's abort signal. */
export interface GateHold {
  readonly kind: "hold"
  readonly name: string
  readonly namespace: string
  /** A browser navigation, eligible for the waiting page. */
  readonly browser: boolean
  /** The `wake` predicate allowed it: false only reads the service's status. */
  readonly wakes: boolean
  /** The `keepsAwake` predicate allowed it: once passed, it counts as activity. */
  readonly keepsAwake: boolean
}

export type GateVerdict = GatePass | GateReply | GateHold

export interface Gate {
  readonly scaler: FunctionScaler
  /** Synchronous; allocates nothing for a request that passes warm. */
  admit(request: GateRequest): GateVerdict
  /** Holds until the service is ready, the timeout, or the signal; never rejects. */
  wait(hold: GateHold, signal: AbortSignal): Promise<GatePass | GateReply>
  /**
   * A second chance for a passed request whose upstream refused it (connection refused, or a
   * 502/503 answer) before any byte reached the client: forgets the service's cached status and
   * holds the request again through the normal wake (same limits, events and Server-Timing).
   * On a pass, send the request once more; never rewake it twice. Undefined when the request
   * is for no service. Never rejects.
   */
  rewake(request: GateRequest, signal: AbortSignal): Promise<GatePass | GateReply | undefined>
  /** Reports that a passed request's response ended; a no-op for a pass without `inFlight`. */
  finished(pass: GatePass): void
  /** One entry per service the backend has reported to this gate, by namespace and name. */
  status(): ServiceStatus[]
  /**
   * Starts waking a service `status()` lists, as a request for it would (bounded by the
   * timeout); false for any other service.
   */
  wake(name: string, namespace: string): boolean
  /** Scales a service `status()` lists to zero now; false for any other, or while it wakes. */
  sleep(name: string, namespace: string): Promise<boolean>
  /**
   * Counts a passed request as an open connection (a WebSocket, a streamed body) instead:
   * call the returned function once, when it closes. With `scaleToZero.connectionIdleMs`,
   * `traffic` is read on every idle check and a connection quiet that long stops counting.
   * Returns a no-op for a pass without `inFlight`.
   */
  open(pass: GatePass, traffic: Traffic): () => void
  /**
   * Runs the idle scale-down check now and settles once its scale-downs are made. Where
   * timers do not outlive a request (Workers), call it from a scheduled handler.
   */
  checkIdle(): Promise<void>
  /** Ends every wait and stops every wake. */
  close(): void
}

export const DEFAULT_MAX_WAITING = 10_000
/** nginx's status for a client that closed the connection; no client ever reads it. */
export const CLIENT_CLOSED_REQUEST = 499

const PASS: GatePass = Object.freeze({ kind: "pass" })
const NOTHING_OPEN = () => {}

/** The `Server-Timing` header value for a request held `ms` while its service woke. */
export function coldStartServerTiming(ms: number): string {
  return `cold-start;dur=${ms}`
}

/** Reads OpenFaaS gateway paths: `/function/NAME[.NAMESPACE]/...` and `/async-function/...`. */
export const resolveOpenFaaSPath: ServiceResolver = (request) => {
  const fullName = getServiceNameFromPath(request.path)
  if (fullName === "") return undefined
  const dot = fullName.lastIndexOf(".")
  return dot === -1
    ? { name: fullName }
    : { name: fullName.slice(0, dot), namespace: fullName.slice(dot + 1) }
}

function reply(status: number, body: string, extraHeaders?: Record<string, string>): GateReply {
  return {
    kind: "reply",
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...extraHeaders,
    },
    body,
  }
}

type Refusal = (
  name: string,
  namespace: string,
  error: Error | undefined,
  signal: AbortSignal,
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

export function createGate(options: ScaleFromZeroOptions): Gate {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("options", "an object such as { serviceQuery }", options)
  }
  const defaultNamespace =
    options.defaultNamespace ?? options.serviceQuery?.defaultNamespace ?? DEFAULT_NAMESPACE
  if (typeof defaultNamespace !== "string" || checkNamespace(defaultNamespace) !== undefined) {
    throw invalidOption("defaultNamespace", "a valid namespace name", defaultNamespace)
  }
  const resolve = options.resolve ?? resolveOpenFaaSPath
  if (typeof resolve !== "function") throw invalidOption("resolve", "a function", resolve)
  if (
    options.scaleToZero !== undefined &&
    (typeof options.scaleToZero !== "object" || options.scaleToZero === null)
  ) {
    throw invalidOption("scaleToZero", "an object", options.scaleToZero)
  }
  const maxWaiting = numberOption(
    "maxWaiting",
    options.maxWaiting,
    DEFAULT_MAX_WAITING,
    "non-negative integer",
  )
  const maxWaitingPerService = numberOption(
    "maxWaitingPerService",
    options.maxWaitingPerService,
    maxWaiting,
    "non-negative integer",
  )
  const retryAfterSeconds = numberOption(
    "retryAfter",
    options.retryAfter,
    1,
    "non-negative integer",
  )
  const retryAfter = { "retry-after": String(retryAfterSeconds) }
  const page = options.waitingPage === false ? undefined : waitingPageSettings(options.waitingPage)
  // The scaler checks the options it shares with the gate (serviceQuery, timeouts, onEvent).
  const emit = options.onEvent ?? (() => {})
  const tracker = createStatusTracker()
  const telemetry = createTelemetry([tracker.observer, ...(options.observers ?? [])])
  // Each service's recent cold starts, for the waiting page's estimate.
  const starts = page && createStartHistory()
  const scaler = createFunctionScaler(
    starts
      ? {
          ...options,
          onEvent: (event) => {
            starts.observe(event)
            emit(event)
          },
        }
      : options,
    undefined,
    telemetry,
  )
  // Scale-out needs every service's requests counted in flight: the idle tracker counts them.
  if (options.countInFlight !== undefined && typeof options.countInFlight !== "boolean") {
    throw invalidOption("countInFlight", "a boolean", options.countInFlight)
  }
  const countAll = options.scaleOut !== undefined || options.countInFlight === true
  const idle =
    options.scaleToZero || countAll
      ? createIdleTracker(scaler, options.scaleToZero, emit, telemetry, countAll)
      : undefined
  const scaleOut =
    options.scaleOut === undefined
      ? undefined
      : createScaleOut(
          scaler,
          () => tracker.status(scaler, idle || undefined),
          options.scaleOut,
          emit,
        )
  const known = (name: string, namespace: string) => scaler.peek(name, namespace) !== undefined
  const wake = functionOption("wake", options.wake)
  const keepsAwake = functionOption("keepsAwake", options.keepsAwake)
  const { cache } = scaler
  const { cacheExpiry: expiry, maxStaleMs, timeout } = scaler.config
  // When each service began waking for browsers shown the page: its reloads are new requests.
  const pageShownSince = new LruMap<string, number>(1000)
  /**
   * Wakes that ended after their browser was shown the page: the next request for the service
   * (within a timeout) carries their cold start. The warm path reads only the map's size.
   */
  const pageWakes = new Map<string, { durationMs: number; timer: ReturnType<typeof setTimeout> }>()

  const notFound = (name: string, namespace: string, reason: string) =>
    reply(404, `error finding function ${name}.${namespace}: ${reason}`)

  const backendError = (name: string, namespace: string, error: Error | undefined) =>
    reply(502, `error scaling function ${name}.${namespace}: ${error?.message ?? "unknown error"}`)

  const asleep = (name: string, namespace: string) =>
    reply(503, `service ${name}.${namespace} is asleep: this request does not wake it`, retryAfter)

  /** The pass for a ready service: counted in flight when idle scale-down tracks it. */
  const readyPass = (name: string, namespace: string, counts: boolean) => {
    const status = idle && counts && scaler.peek(name, namespace)
    return status ? idle.track(name, namespace, status) : undefined
  }

  /** For a request that may not wake the service: pass if it is ready now, else "asleep". */
  const withoutWaking = async (hold: GateHold): Promise<GatePass | GateReply> => {
    const { name, namespace } = hold
    try {
      const status = await scaler.read(name, namespace)
      if (status.availableReplicas === 0) return asleep(name, namespace)
    } catch (error) {
      if (hasErrorCode(error, ERROR_CODES.serviceNotFound)) {
        return notFound(name, namespace, "not found")
      }
      return backendError(name, namespace, asError(error))
    }
    return readyPass(name, namespace, hold.keepsAwake)?.pass ?? PASS
  }

  const shed = (name: string, namespace: string, max: number, scope: "gateway" | "service") => {
    emit({ type: "shed", service: name, namespace, limit: max, scope })
    return reply(503, new OverloadedError(name, namespace, max, scope).message, retryAfter)
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
    signal: AbortSignal,
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
    if (since === undefined || Date.now() - since > scaler.config.timeout) {
      since = start
      pageShownSince.set(key, since)
    }
    // From the scale-up this gateway asked for, when it did; else from the first page shown.
    const elapsedMs = Date.now() - (starts?.scaleUpAt(key) ?? since)
    const typicalStartMs = starts ? starts.typical(key) : undefined
    const { refreshSeconds } = settings
    const body = settings.render({
      name,
      namespace,
      elapsedMs,
      typicalStartMs,
      refreshSeconds,
      head: waitingPageHead(elapsedMs, typicalStartMs, refreshSeconds),
    })
    return reply(503, body, {
      "content-type": "text/html; charset=utf-8",
      [WAITING_PAGE_HEADER]: "waiting",
      ...retryAfter,
    })
  }

  /** The answer to each way a wait can end without a ready replica: one function per status. */
  const refusals: Record<Exclude<ScaleOutcome, "ready">, Refusal> = {
    "invalid-name": (_name, _namespace, error) => reply(400, error?.message ?? "invalid name"),
    "not-found": (name, namespace) => notFound(name, namespace, "not found"),
    timeout: (_name, _namespace, error) => reply(504, error?.message ?? "timed out", retryAfter),
    // The client left (nobody reads the answer), or the gate was closed under a held request.
    aborted: (_name, _namespace, _error, signal) =>
      signal.aborted
        ? reply(CLIENT_CLOSED_REQUEST, "client closed request")
        : reply(503, "the gateway is shutting down", retryAfter),
    "backend-error": (name, namespace, error) => backendError(name, namespace, error),
  }

  /** The hold itself: its answer and, for the telemetry, how it ended. */
  const holdUntilReady = async (
    hold: GateHold,
    signal: AbortSignal,
  ): Promise<[GatePass | GateReply, HoldOutcome, boolean]> => {
    const { name, namespace } = hold
    if (scaler.totalWaiting >= maxWaiting) {
      return [shed(name, namespace, maxWaiting, "gateway"), "overloaded", false]
    }
    if (scaler.waiting(name, namespace) >= maxWaitingPerService) {
      return [shed(name, namespace, maxWaitingPerService, "service"), "overloaded", false]
    }
    const start = Date.now()
    const pageAfter = hold.browser ? page : undefined
    const result =
      pageAfter === undefined
        ? await scaler.scale(name, namespace, { signal })
        : await scaleForBrowser(name, namespace, signal, pageAfter.afterMs)
    // Only scaleForBrowser answers PAGE_DUE, and it runs only with the page's settings.
    if (result === PAGE_DUE) {
      return [waitingPage(name, namespace, start, pageAfter!), "waiting-page", true]
    }
    if (pageAfter !== undefined) pageShownSince.delete(serviceKey(name, namespace))
    return [
      verdictOf(name, namespace, result, signal, hold.keepsAwake),
      result.outcome,
      result.coldStart,
    ]
  }

  /** What a held request gets once its wait is over; `counts` is false for one keepsAwake refused. */
  const verdictOf = (
    name: string,
    namespace: string,
    result: FunctionScaleResult,
    signal: AbortSignal,
    counts: boolean,
  ): GatePass | GateReply => {
    if (result.outcome !== "ready") {
      return refusals[result.outcome](name, namespace, result.error, signal)
    }
    if (!result.coldStart) return readyPass(name, namespace, counts)?.pass ?? PASS
    const status = idle && counts ? scaler.peek(name, namespace) : undefined
    return coldPass(name, namespace, status, result.durationMs)
  }

  const gate: Gate = {
    scaler,
    admit(request) {
      const target = resolve(request)
      if (target === undefined) return PASS
      const { name } = target
      const namespace = target.namespace ?? defaultNamespace
      // Only valid names are ever cached, so a cached service needs no validation.
      const meta = cache.meta(name, namespace)
      if (meta !== undefined && meta.serviceQueryResponse.availableReplicas > 0) {
        const now = Date.now()
        const fresh = !meta.expired(expiry, now)
        // Stale but recent: pass now and re-read in the background, so a ready service never
        // waits. Older than maxStaleMs, it is not trusted: the request waits for a fresh read
        // (one per service, shared), and is held and woken if the service went away meanwhile.
        if (fresh || !meta.expired(expiry + maxStaleMs, now)) {
          if (!fresh) scaler.refresh(name, namespace)
          telemetry.passed(name, namespace)
          const status = meta.serviceQueryResponse
          if (pageWakes.size !== 0) {
            const cold = pageWakePass(name, namespace, status)
            if (cold !== undefined) return cold
          }
          if (idle === undefined || (keepsAwake !== undefined && !keepsAwake(request))) return PASS
          scaleOut?.ensureRunning()
          return idle.track(name, namespace, status)?.pass ?? PASS
        }
      }
      const invalid = checkTarget(name, namespace)
      if (invalid !== undefined) {
        telemetry.refused("400", name, namespace, false)
        return reply(400, invalid.message)
      }
      if (scaler.isKnownMissing(name, namespace)) {
        telemetry.refused("404", name, namespace, false)
        return notFound(name, namespace, "not found")
      }
      const wakes = wake === undefined || wake(request)
      // Known to be down: no need to ask the backend again to refuse.
      if (!wakes && meta !== undefined && !meta.expired(expiry)) return asleep(name, namespace)
      return {
        kind: "hold",
        name,
        namespace,
        browser: prefersHtml(request.method, request.headers),
        wakes,
        keepsAwake: idle === undefined || keepsAwake === undefined || keepsAwake(request),
      }
    },
    async wait(hold, signal) {
      const { name, namespace } = hold
      if (!hold.wakes) return withoutWaking(hold)
      scaleOut?.ensureRunning()
      const observed = telemetry.hold(name, namespace, known(name, namespace))
      const start = Date.now()
      const [answer, outcome, coldStart] = await observed.within(() => holdUntilReady(hold, signal))
      const verdict = answer.kind === "pass" ? "held" : (String(answer.status) as RequestVerdict)
      observed.end(outcome, verdict, Date.now() - start, coldStart, known(name, namespace))
      return answer
    },
    async rewake(request, signal) {
      const target = resolve(request)
      if (target === undefined) return undefined
      const { name } = target
      const namespace = target.namespace ?? defaultNamespace
      const invalid = checkTarget(name, namespace)
      if (invalid !== undefined) return reply(400, invalid.message)
      // The cached "ready" just proved wrong: the wake reads the status afresh.
      cache.delete(name, namespace)
      return gate.wait(
        { kind: "hold", name, namespace, browser: false, wakes: true, keepsAwake: true },
        signal,
      )
    },
    finished(pass) {
      pass.inFlight?.finished()
    },
    status: () => tracker.status(scaler, idle || undefined),
    wake(name, namespace) {
      if (!tracker.has(name, namespace)) return false
      void scaler.scale(name, namespace)
      return true
    },
    async sleep(name, namespace) {
      if (!tracker.has(name, namespace)) return false
      return telemetry.scaleDown(name, namespace, undefined, () =>
        scaler.scaleDown(name, namespace),
      )
    },
    open(pass, traffic) {
      return pass.inFlight === undefined ? NOTHING_OPEN : pass.inFlight.open(traffic)
    },
    checkIdle: () => idle?.check() ?? Promise.resolve(),
    close() {
      scaleOut?.close()
      idle?.close()
      scaler.close()
      for (const { timer } of pageWakes.values()) clearTimeout(timer)
      pageWakes.clear()
    },
  }
  return gate
}

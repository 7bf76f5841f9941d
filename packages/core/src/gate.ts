import { asError, deadline } from "./abortable.js"
import { DEFAULT_NAMESPACE } from "./constants.js"
import { ERROR_CODES, hasErrorCode, OverloadedError } from "./errors.js"
import { serviceKey } from "./function-cache.js"
import {
  createFunctionScaler,
  type FunctionScaler,
  type ScaleOutcome,
  type ScalingConfig,
} from "./function-scaler.js"
import { createIdleTracker, type ScaleToZeroOptions } from "./idle-scale-down.js"
import { LruMap } from "./lru.js"
import { checkNamespace, checkServiceName, getServiceNameFromPath } from "./names.js"
import type { HoldOutcome, RequestVerdict } from "./observer.js"
import { invalidOption, numberOption } from "./options.js"
import { createStatusTracker, type ServiceStatus } from "./status.js"
import { createTelemetry } from "./telemetry.js"
import { prefersHtml, renderWaitingPage } from "./waiting-page.js"

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
  /** Namespace of a service whose name carries none. Default `openfaas-fn`. */
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
   * Browser navigations (GET/HEAD accepting text/html) to a cold service are held
   * `afterMs` (default 2000), then answered with a self-refreshing waiting page;
   * API clients are always held. `false` holds browsers too.
   */
  waitingPage?: false | { afterMs?: number; refreshSeconds?: number }
  /**
   * Idle scale-to-zero: once a service's last request has ended and it stays idle for its
   * `com.openfaas.scale.zero-duration` (or `idleAfterMs`), it is scaled to 0 — only services
   * labelled `com.openfaas.scale.zero=true`, unless `allServices`. Adapters then count every
   * request to such a service in flight until its response ends. Off by default.
   */
  scaleToZero?: ScaleToZeroOptions
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

function waitingPageSettings(settings: { afterMs?: number; refreshSeconds?: number } = {}) {
  return {
    afterMs: numberOption("waitingPage.afterMs", settings.afterMs, 2000, "non-negative integer"),
    refreshSeconds: numberOption(
      "waitingPage.refreshSeconds",
      settings.refreshSeconds,
      2,
      "non-negative integer",
    ),
  }
}

function functionOption(option: string, value: unknown): RequestPredicate | undefined {
  if (value === undefined || typeof value === "function") return value as RequestPredicate
  throw invalidOption(option, "a function", value)
}

export function createGate(options: ScaleFromZeroOptions): Gate {
  const defaultNamespace = options.defaultNamespace ?? DEFAULT_NAMESPACE
  const resolve = options.resolve ?? resolveOpenFaaSPath
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
  const emit = options.onEvent ?? (() => {})
  const tracker = createStatusTracker()
  const telemetry = createTelemetry([tracker.observer, ...(options.observers ?? [])])
  const scaler = createFunctionScaler(options, undefined, telemetry)
  const idle =
    options.scaleToZero && createIdleTracker(scaler, options.scaleToZero, emit, telemetry)
  const known = (name: string, namespace: string) => scaler.peek(name, namespace) !== undefined
  const wake = functionOption("wake", options.wake)
  const keepsAwake = functionOption("keepsAwake", options.keepsAwake)
  const { cache } = scaler
  const expiry = scaler.config.cacheExpiry
  // When each service began waking for browsers shown the page: its reloads are new requests.
  const pageShownSince = new LruMap<string, number>(1000)

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

  /** scaler.scale, giving up after `afterMs` with PAGE_DUE. */
  const scaleWithin = async (
    name: string,
    namespace: string,
    signal: AbortSignal,
    afterMs: number,
  ) => {
    const due = deadline(afterMs, signal, () => PAGE_DUE)
    try {
      const result = await scaler.scale(name, namespace, { signal: due.signal })
      return due.signal.reason === PAGE_DUE ? PAGE_DUE : result
    } finally {
      due.release()
    }
  }

  const waitingPage = (
    name: string,
    namespace: string,
    start: number,
    refreshSeconds: number,
  ): GateReply => {
    const key = serviceKey(name, namespace)
    let since = pageShownSince.peek(key)
    if (since === undefined || Date.now() - since > scaler.config.timeout) {
      since = start
      pageShownSince.set(key, since)
    }
    const body = renderWaitingPage({
      name,
      namespace,
      elapsedMs: Date.now() - since,
      refreshSeconds,
    })
    return reply(503, body, { "content-type": "text/html; charset=utf-8", ...retryAfter })
  }

  /** The answer to each way a wait can end without a ready replica: one function per status. */
  const refusals: Record<Exclude<ScaleOutcome, "ready">, Refusal> = {
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
        : await scaleWithin(name, namespace, signal, pageAfter.afterMs)
    // Only scaleWithin answers PAGE_DUE, and it runs only with the page's settings.
    if (result === PAGE_DUE) {
      return [waitingPage(name, namespace, start, pageAfter!.refreshSeconds), "waiting-page", true]
    }
    if (pageAfter !== undefined) pageShownSince.delete(serviceKey(name, namespace))
    if (result.outcome === "ready") {
      const inFlight = readyPass(name, namespace, hold.keepsAwake)
      if (!result.coldStart) return [inFlight?.pass ?? PASS, "ready", false]
      const pass: GatePass =
        inFlight === undefined
          ? { kind: "pass", coldStartMs: result.durationMs }
          : { kind: "pass", coldStartMs: result.durationMs, inFlight }
      return [pass, "ready", true]
    }
    const refusal = refusals[result.outcome](name, namespace, result.error, signal)
    return [refusal, result.outcome, result.coldStart]
  }

  return {
    scaler,
    admit(request) {
      const target = resolve(request)
      if (target === undefined) return PASS
      const { name } = target
      const namespace = target.namespace ?? defaultNamespace
      // Only valid names are ever cached, so a cached service needs no validation.
      const meta = cache.meta(name, namespace)
      if (meta !== undefined && meta.serviceQueryResponse.availableReplicas > 0) {
        // Stale but ready: pass now and re-read in the background, so a ready service never waits.
        if (meta.expired(expiry)) scaler.refresh(name, namespace)
        telemetry.passed(name, namespace)
        if (idle === undefined || (keepsAwake !== undefined && !keepsAwake(request))) return PASS
        return idle.track(name, namespace, meta.serviceQueryResponse)?.pass ?? PASS
      }
      const invalid = checkServiceName(name) ?? checkNamespace(namespace)
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
      const observed = telemetry.hold(name, namespace, known(name, namespace))
      const start = Date.now()
      const [answer, outcome, coldStart] = await observed.within(() => holdUntilReady(hold, signal))
      const verdict = answer.kind === "pass" ? "held" : (String(answer.status) as RequestVerdict)
      observed.end(outcome, verdict, Date.now() - start, coldStart, known(name, namespace))
      return answer
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
    close() {
      idle?.close()
      scaler.close()
    },
  }
}

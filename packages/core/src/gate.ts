import { DEFAULT_NAMESPACE } from "./constants.js"
import { OverloadedError } from "./errors.js"
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
import { invalidOption, numberOption } from "./options.js"
import type { ServiceQueryResponse } from "./types.js"
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
  /** Ends every wait and stops every wake. */
  close(): void
}

export const DEFAULT_MAX_WAITING = 10_000
/** nginx's status for a client that closed the connection; no client ever reads it. */
export const CLIENT_CLOSED_REQUEST = 499

const PASS: GatePass = Object.freeze({ kind: "pass" })

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
  if (typeof settings !== "object" || settings === null) {
    throw invalidOption("waitingPage", "false or { afterMs?, refreshSeconds? }", settings)
  }
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

export function createGate(options: ScaleFromZeroOptions): Gate {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("options", "an object such as { serviceQuery }", options)
  }
  const defaultNamespace = options.defaultNamespace ?? DEFAULT_NAMESPACE
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
  const scaler = createFunctionScaler(options)
  const idle = options.scaleToZero && createIdleTracker(scaler, options.scaleToZero, emit)
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
    "invalid-name": (_name, _namespace, error) => reply(400, error?.message ?? "invalid name"),
    "not-found": (name, namespace) => notFound(name, namespace, "not found"),
    timeout: (_name, _namespace, error) => reply(504, error?.message ?? "timed out", retryAfter),
    // The client left (nobody reads the answer), or the gate was closed under a held request.
    aborted: (_name, _namespace, _error, signal) =>
      signal.aborted
        ? reply(CLIENT_CLOSED_REQUEST, "client closed request")
        : reply(503, "the gateway is shutting down", retryAfter),
    "backend-error": (name, namespace, error) =>
      reply(
        502,
        `error scaling function ${name}.${namespace}: ${error?.message ?? "unknown error"}`,
      ),
  }

  /** What a held request gets once its wait is over. */
  const verdictOf = (
    name: string,
    namespace: string,
    result: FunctionScaleResult,
    signal: AbortSignal,
  ): GatePass | GateReply => {
    if (result.outcome !== "ready") {
      return refusals[result.outcome](name, namespace, result.error, signal)
    }
    const status = idle && scaler.peek(name, namespace)
    if (result.coldStart) return coldPass(name, namespace, status, result.durationMs)
    const inFlight = status ? idle.track(name, namespace, status) : undefined
    return inFlight?.pass ?? PASS
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
          const status = meta.serviceQueryResponse
          if (pageWakes.size !== 0) {
            const cold = pageWakePass(name, namespace, status)
            if (cold !== undefined) return cold
          }
          return idle?.track(name, namespace, status)?.pass ?? PASS
        }
      }
      const invalid = checkTarget(name, namespace)
      if (invalid !== undefined) return reply(400, invalid.message)
      if (scaler.isKnownMissing(name, namespace)) return notFound(name, namespace, "not found")
      return {
        kind: "hold",
        name,
        namespace,
        browser: prefersHtml(request.method, request.headers),
      }
    },
    async wait(hold, signal) {
      const { name, namespace } = hold
      if (scaler.totalWaiting >= maxWaiting) return shed(name, namespace, maxWaiting, "gateway")
      if (scaler.waiting(name, namespace) >= maxWaitingPerService) {
        return shed(name, namespace, maxWaitingPerService, "service")
      }
      const start = Date.now()
      const pageAfter = hold.browser ? page : undefined
      const result =
        pageAfter === undefined
          ? await scaler.scale(name, namespace, { signal })
          : await scaleForBrowser(name, namespace, signal, pageAfter.afterMs)
      // Only scaleForBrowser answers PAGE_DUE, and it runs only with the page's settings.
      if (result === PAGE_DUE) return waitingPage(name, namespace, start, pageAfter!.refreshSeconds)
      if (pageAfter !== undefined) pageShownSince.delete(serviceKey(name, namespace))
      return verdictOf(name, namespace, result, signal)
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
      return gate.wait({ kind: "hold", name, namespace, browser: false }, signal)
    },
    finished(pass) {
      pass.inFlight?.finished()
    },
    close() {
      idle?.close()
      scaler.close()
      for (const { timer } of pageWakes.values()) clearTimeout(timer)
      pageWakes.clear()
    },
  }
  return gate
}

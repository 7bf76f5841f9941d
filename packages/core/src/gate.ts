import { deadline } from "./abortable.js"
import { DEFAULT_NAMESPACE } from "./constants.js"
import { OverloadedError } from "./errors.js"
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
import { numberOption } from "./options.js"
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
  /** Reports that a passed request's response ended; a no-op for a pass without `inFlight`. */
  finished(pass: GatePass): void
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
  const scaler = createFunctionScaler(options)
  const idle = options.scaleToZero && createIdleTracker(scaler, options.scaleToZero, emit)
  const { cache } = scaler
  const expiry = scaler.config.cacheExpiry
  // When each service began waking for browsers shown the page: its reloads are new requests.
  const pageShownSince = new LruMap<string, number>(1000)

  const notFound = (name: string, namespace: string, reason: string) =>
    reply(404, `error finding function ${name}.${namespace}: ${reason}`)

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
    "backend-error": (name, namespace, error) =>
      reply(
        502,
        `error scaling function ${name}.${namespace}: ${error?.message ?? "unknown error"}`,
      ),
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
        return idle?.track(name, namespace, meta.serviceQueryResponse)?.pass ?? PASS
      }
      const invalid = checkServiceName(name) ?? checkNamespace(namespace)
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
          : await scaleWithin(name, namespace, signal, pageAfter.afterMs)
      // Only scaleWithin answers PAGE_DUE, and it runs only with the page's settings.
      if (result === PAGE_DUE) return waitingPage(name, namespace, start, pageAfter!.refreshSeconds)
      if (pageAfter !== undefined) pageShownSince.delete(serviceKey(name, namespace))
      if (result.outcome === "ready") {
        const status = idle && scaler.peek(name, namespace)
        const inFlight = status ? idle.track(name, namespace, status) : undefined
        if (!result.coldStart) return inFlight?.pass ?? PASS
        return inFlight === undefined
          ? { kind: "pass", coldStartMs: result.durationMs }
          : { kind: "pass", coldStartMs: result.durationMs, inFlight }
      }
      return refusals[result.outcome](name, namespace, result.error, signal)
    },
    finished(pass) {
      pass.inFlight?.finished()
    },
    checkIdle: () => idle?.check() ?? Promise.resolve(),
    close() {
      idle?.close()
      scaler.close()
    },
  }
}

import { asError, type WaitSignal } from "./abortable.js"
import { DEFAULT_NAMESPACE } from "./constants.js"
import { createDependencyGraph, type Dependencies } from "./dependencies.js"
import {
  ERROR_CODES,
  type ErrorCode,
  hasErrorCode,
  OverloadedError,
  ScaleTimeoutError,
} from "./errors.js"
import type { ScalingEventListener } from "./events.js"
import { monotonicMs, serviceKey } from "./function-cache.js"
import {
  createFunctionScaler,
  type FunctionScaleResult,
  type FunctionScaler,
  type HeldScaling,
  type ScaleOutcome,
  type ScaleSettled,
  type ScalingConfig,
  scaleThen,
} from "./function-scaler.js"
import {
  createIdleTracker,
  DEFAULT_DRAIN_MS,
  type IdleTracker,
  type ScaleToZeroOptions,
} from "./idle-scale-down.js"
import { createKeepWarm, type KeepWarmWindow } from "./keep-warm.js"
import { LruMap } from "./lru.js"
import {
  checkNamespace,
  checkTarget,
  getNamespace,
  getServiceNameFromPath,
  serviceNameStart,
} from "./names.js"
import type { HoldOutcome, RequestVerdict } from "./observer.js"
import { invalidOption, numberOption } from "./options.js"
import { type RefusalFormat, refusalFormat, refusalReply } from "./refusal.js"
import { createScaleOut, type ScaleOut, type ScaleOutOptions } from "./scale-out.js"
import type { StartHistory } from "./start-history.js"
import { createStatusTracker, type ServiceStatus } from "./status.js"
import { createTelemetry, type HoldTelemetry, type Telemetry } from "./telemetry.js"
import type { ServiceQueryResponse } from "./types.js"
import {
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

/**
 * Maps a request to the service it needs, or undefined to let it pass untouched. The request
 * (as every GateRequest a gate's callbacks receive) is valid during the call only: the adapters
 * reuse one view for every request they admit.
 */
export type ServiceResolver = (request: GateRequest) => ServiceTarget | undefined

/** Decides something about one request: see `wake` and `keepsAwake`. */
export type RequestPredicate = (request: GateRequest) => boolean

/**
 * What one middleware decides for itself. Several middlewares over one shared gate
 * (`scaleFromZero({ gate, ...policy })`) each have their own; wakes, the status cache, counts
 * and idle tracking stay shared.
 */
export interface RoutePolicy {
  /**
   * Namespace of a service whose name carries none. Default: the backend's own
   * (`serviceQuery.defaultNamespace`, e.g. `default` for the process and Docker backends), else
   * `openfaas-fn`.
   */
  defaultNamespace?: string
  /** Default: OpenFaaS paths, `/function/NAME[.NAMESPACE]/...` and `/async-function/...`. */
  resolve?: ServiceResolver
  /** Requests this middleware holds at once, all services together, before new ones get 503. Default 10 000. */
  maxWaiting?: number
  /** Requests this middleware holds at once for one service before new ones get 503. Default `maxWaiting`. */
  maxWaitingPerService?: number
  /** Seconds sent in `Retry-After` with 503 and 504 answers. Default 1. */
  retryAfter?: number
  /**
   * Milliseconds a request is held at most before a 504. Over a shared gate, at most the
   * shared gate's `timeout` (which bounds every wake). Default: that timeout.
   */
  timeout?: number
  /**
   * Browser navigations (GET/HEAD accepting text/html) to a cold service are held `afterMs`,
   * then answered with a waiting page (503) that turns into the service once it is ready;
   * API clients are always held. `false` holds browsers too.
   */
  waitingPage?: false | WaitingPageOptions
  /**
   * Whether a request may wake a service with no ready replica. A request it refuses is
   * answered 503 with `Retry-After` ("asleep") and nothing is started; on a ready service it
   * passes. Default: every request wakes. `notMonitoring` keeps health checks and uptime
   * monitors from waking services.
   */
  wake?: RequestPredicate
  /**
   * Whether a request that passes counts as activity for idle scale-down (`scaleToZero`).
   * One it refuses passes but neither keeps the service up nor delays its scale-down (nor
   * counts in flight for `scaleOut`). Called only while requests are counted (`scaleToZero`,
   * `scaleOut` or `countInFlight`). Default: every request counts.
   */
  keepsAwake?: RequestPredicate
  /**
   * Hints: a request that matches (`path` prefix, or `when`) wakes `services` in the
   * background, without being held itself: `{ path: "/login", services: ["api", "reports"] }`.
   * A service ready or already waking is left alone.
   */
  prewarm?: readonly PrewarmHint[]
}

/** A request that announces the services it will soon need. */
export interface PrewarmHint {
  /** Matches requests whose path starts with this. */
  path?: string
  /** Matches requests it returns true for. */
  when?: RequestPredicate
  /** `name` (in the default namespace) or `name.namespace`. */
  services: readonly string[]
}

export interface ScaleFromZeroOptions extends ScalingConfig, RoutePolicy {
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
   * Count every service's requests in flight (for `gate.status()`, `gate.sleep`'s drain and the
   * KEDA scaler), not only those of services idle scale-down watches. Implied by `scaleOut`.
   * Default false.
   */
  countInFlight?: boolean
  /**
   * The services each service needs running first, by `name` or `name.namespace`; beside a
   * `scale-from-zero.depends-on` label on the service. Waking a service wakes its dependencies
   * first (independent ones in parallel); a dependency stays up while a dependent is up and
   * then idles by its own rules. A cycle throws here (or fails the wake that reads its label).
   */
  dependencies?: Dependencies
  /** Windows in which services are kept up (woken at each start, never idled inside). */
  keepWarm?: readonly KeepWarmWindow[]
}

/** A middleware with its own policy over a shared gate's wakes, cache and counts. */
export interface SharedGateOptions extends RoutePolicy {
  /** The gate to share: `createGate(options)`, or another middleware's `.gate`. */
  gate: Gate
}

/** What `createGate` and every adapter's `scaleFromZero` take. */
export type GateOptions = ScaleFromZeroOptions | SharedGateOptions

/** Options of `gate.sleep`. */
export interface SleepOptions {
  /**
   * Milliseconds the service's requests and connections in flight get to finish before it is
   * scaled to zero; new requests are held meanwhile, and wake it again afterwards. Requests
   * are counted only where the gate tracks the service (`scaleToZero`, `scaleOut`,
   * `countInFlight`): the drain ends
   * as soon as they are done, 10 000 ms at most by default. Otherwise nothing tells when they
   * are done: a `drainMs` given is waited out in full, and none is waited for by default.
   */
  drainMs?: number
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
   * Set when the gate counts this request as in flight (`scaleToZero`, `scaleOut`, `countInFlight`):
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
  /** How a refusal is written for this client. */
  readonly format: RefusalFormat
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
  wait(hold: GateHold, signal: WaitSignal): Promise<GatePass | GateReply>
  /**
   * A second chance for a passed request whose upstream refused it (connection refused, or a
   * 502/503 answer) before any byte reached the client: forgets the service's cached status and
   * holds the request again through the normal wake (same limits, events and Server-Timing).
   * On a pass, send the request once more; never rewake it twice. Undefined when the request
   * is for no service. Never rejects.
   */
  rewake(request: GateRequest, signal: WaitSignal): Promise<GatePass | GateReply | undefined>
  /** Reports that a passed request's response ended; a no-op for a pass without `inFlight`. */
  finished(pass: GatePass): void
  /** One entry per service the backend has reported to this gate, by namespace and name. */
  status(): ServiceStatus[]
  /**
   * Wakes a service (with its dependencies) as a request for it would, with no request held:
   * settles with how the wake ended (`ready`, `not-found`, `timeout`…), bounded by the timeout.
   * Never rejects.
   */
  wake(name: string, namespace?: string): Promise<FunctionScaleResult>
  /**
   * A graceful scale-down: from now on the service's new requests are held (and wake it again
   * once it is down); those in flight get `drainMs` to finish; then its replicas are set to 0.
   * Resolves true once scaled down, false when a wake or a scale-down of it was under way.
   * Rejects for an invalid name, or when the backend fails.
   */
  sleep(name: string, namespace?: string, options?: SleepOptions): Promise<boolean>
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

/** The targets the OpenFaaS resolver gave last, so a service asked for again costs no allocation. */
const RECENT_TARGETS = 8
const recentFullNames: string[] = []
const recentTargets: ServiceTarget[] = []
let nextRecent = 0

/** The target of `path` when it names a recently resolved service, found without slicing. */
function recentTarget(path: string): ServiceTarget | undefined {
  const start = serviceNameStart(path)
  if (start === -1) return undefined
  for (let i = 0; i < recentFullNames.length; i++) {
    const fullName = recentFullNames[i] as string
    if (!path.startsWith(fullName, start)) continue
    const end = start + fullName.length
    const c = path.charCodeAt(end)
    // The name segment ends there: the path's end, "/", "?" or "#".
    if (end === path.length || c === 47 || c === 63 || c === 35) return recentTargets[i]
  }
  return undefined
}

/** Reads OpenFaaS gateway paths: `/function/NAME[.NAMESPACE]/...` and `/async-function/...`. */
export const resolveOpenFaaSPath: ServiceResolver = (request) => {
  const recent = recentTarget(request.path)
  if (recent !== undefined) return recent
  const fullName = getServiceNameFromPath(request.path)
  if (fullName === "") return undefined
  const dot = fullName.lastIndexOf(".")
  const target: ServiceTarget = Object.freeze(
    dot === -1
      ? { name: fullName }
      : { name: fullName.slice(0, dot), namespace: fullName.slice(dot + 1) },
  )
  recentFullNames[nextRecent] = fullName
  recentTargets[nextRecent] = target
  nextRecent = (nextRecent + 1) % RECENT_TARGETS
  return target
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

/** What every middleware over one gate shares: wakes, the status cache, counts, idle tracking. */
interface SharedState {
  readonly scaler: FunctionScaler
  readonly idle: IdleTracker | undefined
  readonly scaleOut: ScaleOut | undefined
  readonly telemetry: Telemetry
  readonly tracker: ReturnType<typeof createStatusTracker>
  readonly starts: StartHistory
  readonly emit: ScalingEventListener
  readonly defaultNamespace: string
  wake(name: string, namespace: string): Promise<FunctionScaleResult>
  sleep(name: string, namespace: string, options: SleepOptions | undefined): Promise<boolean>
  checkIdle(): Promise<void>
  close(): void
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

function namespaceOption(value: unknown): string {
  if (typeof value !== "string" || checkNamespace(value) !== undefined) {
    throw invalidOption("defaultNamespace", "a valid namespace name", value)
  }
  return value
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function createShared(options: ScaleFromZeroOptions): SharedState {
  const defaultNamespace = namespaceOption(
    options.defaultNamespace ?? options.serviceQuery?.defaultNamespace ?? DEFAULT_NAMESPACE,
  )
  if (
    options.scaleToZero !== undefined &&
    (typeof options.scaleToZero !== "object" || options.scaleToZero === null)
  ) {
    throw invalidOption("scaleToZero", "an object", options.scaleToZero)
  }
  // The scaler checks the options it shares with the gate (serviceQuery, timeouts, onEvent).
  const emit = options.onEvent ?? (() => {})
  const tracker = createStatusTracker()
  const telemetry = createTelemetry([tracker.observer, ...(options.observers ?? [])])
  let idle: IdleTracker | undefined
  /** A service woken for another or on schedule counts as active: idle rules start now. */
  const touch = (name: string, namespace: string) => {
    const status = scaler.peek(name, namespace)
    if (idle !== undefined && status !== undefined) idle.touch(name, namespace, status)
  }
  const graph = createDependencyGraph(options.dependencies, defaultNamespace, () => scaler, touch)
  const scaler = createFunctionScaler(options, undefined, telemetry, graph.prerequisites)
  let keepWarm: ReturnType<typeof createKeepWarm>
  if (options.countInFlight !== undefined && typeof options.countInFlight !== "boolean") {
    throw invalidOption("countInFlight", "a boolean", options.countInFlight)
  }
  // Scale-out needs every service's requests counted in flight: the idle tracker counts them.
  const countAll = options.scaleOut !== undefined || options.countInFlight === true
  idle =
    options.scaleToZero || countAll
      ? createIdleTracker(
          scaler,
          options.scaleToZero,
          emit,
          telemetry,
          (name, namespace, now) =>
            graph.dependentsUp(name, namespace) || keepWarm?.covers(name, namespace, now) === true,
          countAll,
        )
      : undefined
  const scaleOut =
    options.scaleOut === undefined
      ? undefined
      : createScaleOut(scaler, () => tracker.status(scaler, idle), options.scaleOut, emit)
  const wake = async (name: string, namespace: string) => {
    const result = await scaler.scale(name, namespace)
    if (result.outcome === "ready") touch(name, namespace)
    return result
  }
  keepWarm = createKeepWarm(
    options.keepWarm,
    defaultNamespace,
    (name, namespace) => void wake(name, namespace),
    () => tracker.known(),
  )
  return {
    scaler,
    idle,
    scaleOut,
    telemetry,
    tracker,
    // Each service's recent cold starts: the waiting page's estimate, the scaler's poll schedule.
    starts: scaler.starts,
    emit,
    defaultNamespace,
    wake,
    sleep(name, namespace, sleepOptions = {}) {
      try {
        if (typeof sleepOptions !== "object" || sleepOptions === null) {
          throw invalidOption("options", "an object such as { drainMs }", sleepOptions)
        }
        const drainMs = numberOption(
          "drainMs",
          sleepOptions.drainMs,
          DEFAULT_DRAIN_MS,
          "non-negative",
        )
        const invalid = checkTarget(name, namespace)
        if (invalid !== undefined) throw invalid
        // Uncounted requests (no idle scale-down for this service): only a drainMs asked
        // for is waited out, since nothing tells when they are done.
        const counted = idle?.peek(name, namespace) !== undefined
        const drain = () =>
          counted
            ? idle!.drain(name, namespace, drainMs)
            : delay(sleepOptions.drainMs === undefined ? 0 : drainMs)
        return telemetry.scaleDown(name, namespace, undefined, () =>
          scaler.scaleDown(name, namespace, { drain }),
        )
      } catch (error) {
        return Promise.reject(error)
      }
    },
    async checkIdle() {
      keepWarm?.check(Date.now())
      await idle?.check()
    },
    close() {
      keepWarm?.close()
      scaleOut?.close()
      idle?.close()
      scaler.close()
    },
  }
}

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
  const { cacheExpiry: expiry, maxStaleMs } = scaler.config
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

  const gate: Gate = {
    scaler,
    admit(request) {
      if (hints !== undefined) prewarm(request, hints)
      const target = resolve(request)
      if (target === undefined) return PASS
      const { name } = target
      const namespace = target.namespace ?? defaultNamespace
      // Only valid names are ever cached, so a cached service needs no validation.
      const meta = cache.meta(name, namespace)
      if (meta !== undefined && meta.serviceQueryResponse.availableReplicas > 0) {
        // A pushed entry never expires: it needs no clock read.
        const now = meta.pushed ? 0 : monotonicMs()
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

// The gate's public types: what adapters and gateway authors pass and receive.
import type { WaitSignal } from "./abortable.js"
import type { Dependencies } from "./dependencies.js"
import type { FunctionScaleResult, FunctionScaler, ScalingConfig } from "./function-scaler.js"
import type { ScaleToZeroOptions } from "./idle-scale-down.js"
import type { KeepWarmWindow } from "./keep-warm.js"
import type { RefusalFormat } from "./refusal.js"
import type { ScaleOutOptions } from "./scale-out.js"
import type { ServiceStatus } from "./status.js"
import type { WaitingPageInfo } from "./waiting-page.js"

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
  /**
   * Counts the request's end; called by gate.finished. A service's one function, so a listener
   * that fires once per request (Node's response `close`) may be this itself: nothing per request.
   */
  readonly finished: () => void
  /** Counts the request as an open connection until the returned function is called: see `Gate.open`. */
  open(traffic: Traffic): () => void
  /** `open` reads the connection's traffic (`scaleToZero.connectionIdleMs`): use it, not `finished`. */
  readonly watchesTraffic: boolean
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

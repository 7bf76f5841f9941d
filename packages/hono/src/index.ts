import {
  createGate,
  type Gate,
  type GateHold,
  type GateOptions,
  type GatePass,
  type GateReply,
  type InFlight,
  type ScaleServiceRequest,
  type StatusHandlerOptions,
} from "@scale-from-zero/core"
import {
  admitRequest,
  answerStatusRequest,
  coldStartServerTiming,
  countUntilDone,
  prepareScaleRequest,
  statusAuthorizer,
  toGateRequest,
  toResponse,
  type WaitUntil,
  waitForService,
} from "@scale-from-zero/core/web"
import type { Context, Handler, MiddlewareHandler, Next } from "hono"
import type { UpgradeWebSocket, WSContext, WSEvents } from "hono/ws"

export type {
  GateOptions,
  PrewarmHint,
  RoutePolicy,
  ScaleFromZeroOptions,
  ScaleServiceRequest,
  SharedGateOptions,
  SleepOptions,
  StatusHandlerOptions,
} from "@scale-from-zero/core"

export type ScaleFromZeroMiddleware = MiddlewareHandler & {
  /**
   * On shutdown: answers every held request 503 ("the gateway is shutting down", with
   * `Retry-After`), abandons every wake in progress and stops the idle scale-down checks. It
   * closes neither the server nor the backend: close the `serviceQuery` yourself (e.g.
   * `await serviceQuery.close()`), since it may be shared.
   */
  close(): void
  /** The gate behind the middleware: its scaler, held-request counts (`gate.scaler.totalWaiting`). */
  readonly gate: Gate
  /**
   * For a fetch proxy whose upstream refused a request this middleware passed (the fetch
   * failed, or answered 502/503) before anything was returned: holds it again while the
   * service wakes, then calls `resend` once and returns its answer (with the cold start's
   * Server-Timing), or the gate's own answer (404/502/504…). Undefined when it cannot help
   * (not a service, rewoken once already): answer the failure yourself.
   */
  rewake(c: Context, resend: () => Promise<Response>): Promise<Response | undefined>
}

/** The in-flight count of each tracked request, for `countWebSockets` to take over on upgrade. */
const handoffs = new WeakMap<Context, InFlight>()

/** Bytes (UTF-16 units for text) of a frame: only their growth is read, for connectionIdleMs. */
function frameSize(data: unknown): number {
  if (typeof data === "string") return data.length
  if (data instanceof Blob) return data.size
  return (data as { byteLength?: number } | null)?.byteLength ?? 1
}

/** One upgraded socket: its frames are its traffic; counted from the upgrade to its close. */
class CountedSocket {
  bytesRead = 0
  bytesWritten = 0
  private closed = false
  private done: (() => void) | undefined
  private readonly contexts = new WeakSet<WSContext>()

  constructor(
    private readonly c: Context,
    private readonly inFlight: InFlight,
  ) {}

  /** The user's events, counting frames and ending the count on close. */
  wrap<T>(events: WSEvents<T>): WSEvents<T> {
    const { onOpen, onMessage, onClose } = events
    return {
      ...events,
      onOpen: (event, ws) => {
        this.countSends(ws)
        onOpen?.(event, ws)
      },
      onMessage: (event, ws) => {
        this.bytesRead += frameSize(event.data)
        this.countSends(ws)
        onMessage?.(event, ws)
      },
      onClose: (event, ws) => {
        this.closed = true
        this.done?.()
        onClose?.(event, ws)
      },
    }
  }

  /** The upgrade succeeded: from now until it closes, the socket is the pass's in-flight count. */
  upgraded(): void {
    if (!handoffs.delete(this.c)) return
    if (this.closed) this.inFlight.finished()
    else this.done = this.inFlight.open(this)
  }

  // Bun hands each event a new WSContext, Deno one per socket: each is counted once.
  private countSends(ws: WSContext<unknown>): void {
    if (this.contexts.has(ws)) return
    this.contexts.add(ws)
    const send = ws.send.bind(ws)
    ws.send = (source, options) => {
      this.bytesWritten += frameSize(source)
      send(source, options)
    }
  }
}

/**
 * Wraps a runtime's Hono `upgradeWebSocket` (from `hono/deno`, `hono/bun`, `hono/cloudflare-workers`
 * or @hono/node-server) so that a WebSocket to a service counts in flight until it closes, and its
 * frames are its traffic (`scaleToZero.connectionIdleMs`). Without it, outside Node, the socket
 * stops counting once the upgrade has been answered, and an idle scale-down may stop the service
 * under an open WebSocket. Sockets for no service, or without `scaleToZero`, are not touched.
 */
export function countWebSockets<T extends UpgradeWebSocket<never, never, never>>(
  upgradeWebSocket: T,
): T {
  const upgrade = upgradeWebSocket as unknown as UpgradeWebSocket<unknown, unknown>
  const sockets = new WeakMap<Context, CountedSocket>()
  // The events of a tracked request, wrapped; an untracked one's as they are.
  const countedEvents = async (
    c: Context,
    events: WSEvents | Promise<WSEvents>,
  ): Promise<WSEvents> => {
    const inFlight = handoffs.get(c)
    if (inFlight === undefined) return events
    const socket = new CountedSocket(c, inFlight)
    sockets.set(c, socket)
    return socket.wrap(await events)
  }
  function counted(
    first: Context | ((c: Context) => WSEvents | Promise<WSEvents>),
    second?: unknown,
    options?: unknown,
  ): MiddlewareHandler | Promise<Response> {
    if (typeof first !== "function") {
      // upgradeWebSocket(c, events, options): throws when the request cannot be upgraded.
      return countedEvents(first, second as WSEvents).then(async (events) => {
        const response = await upgrade(first, events, options)
        sockets.get(first)?.upgraded()
        return response
      })
    }
    const middleware = upgrade((c) => countedEvents(c, first(c)), second)
    return async (c: Context, next: Next) => {
      // Hono's helper calls next only when it did not upgrade (no `Upgrade: websocket`, refused).
      let upgraded = true
      const result = await middleware(c, () => {
        upgraded = false
        return next()
      })
      if (upgraded) sockets.get(c)?.upgraded()
      return result
    }
  }
  return counted as unknown as T
}

/**
 * Cloudflare's documented way to tell its runtime (`navigator.userAgent`): there, I/O opened in
 * one request cannot be closed from another, so no subscription may outlive its request.
 */
function onCloudflareWorkers(): boolean {
  return globalThis.navigator?.userAgent === "Cloudflare-Workers"
}

/** The Workers ExecutionContext, or undefined where there is none (Hono throws on Node). */
function executionContextOf(c: Context): WaitUntil | undefined {
  try {
    return c.executionCtx
  } catch {
    return undefined
  }
}

/**
 * Holds each request for a service without a ready replica until the service is ready
 * (scaling it from zero), then hands it on with its body unread; answers 400/404/502/503/504
 * itself. Requests for no service pass straight through. Web APIs only: runs on Node
 * (@hono/node-server), Cloudflare Workers, Deno and Bun.
 */
export function scaleFromZero(options: GateOptions): ScaleFromZeroMiddleware {
  const gate = createGate(
    onCloudflareWorkers() && !("gate" in options) && options?.watchCached === undefined
      ? { ...options, watchCached: false }
      : options,
  )
  // Counts a tracked request in flight until its body has been sent or its WebSocket closed;
  // a WebSocket upgraded through `countWebSockets` counts itself.
  const passTracked = async (c: Context, pass: GatePass, next: () => Promise<void>) => {
    // Taken out of `handoffs` by an upgrade that counts itself.
    handoffs.set(c, pass.inFlight!)
    try {
      await next()
    } catch (error) {
      if (handoffs.delete(c)) gate.finished(pass)
      throw error
    }
    if (!handoffs.delete(c)) return
    const counted = countUntilDone(gate, pass, c.res, c.env)
    if (counted === c.res) return
    // Cleared first: the setter would otherwise rebuild the response and copy its headers again.
    c.res = undefined
    c.res = counted
  }
  // A pass after a wait, or carrying the cold start of a wake a browser was shown the page for.
  const passWoken = async (c: Context, pass: GatePass, next: () => Promise<void>) => {
    await (pass.inFlight ? passTracked(c, pass, next) : next())
    if (pass.coldStartMs !== undefined) {
      c.header("server-timing", coldStartServerTiming(pass.coldStartMs), { append: true })
    }
  }
  const notWarm = (verdict: GateHold | GateReply, c: Context, next: Next) => {
    if (verdict.kind === "reply") return Promise.resolve(toResponse(verdict))
    return waitForService(gate, verdict, c.req.raw, executionContextOf(c), c.env).then(
      async (outcome): Promise<Response | undefined> => {
        if (outcome.kind === "reply") return toResponse(outcome)
        await passWoken(c, outcome, next)
        return undefined
      },
    )
  }
  // No closure in here: a function whose closures capture its arguments allocates a context
  // for them on every call, even on the warm path that makes none.
  const middleware: MiddlewareHandler = (c, next) => {
    const { req } = c
    const verdict = admitRequest(gate, req.raw, req.path)
    if (verdict.kind !== "pass") return notWarm(verdict, c, next)
    if (verdict.coldStartMs !== undefined) return passWoken(c, verdict, next)
    return verdict.inFlight ? passTracked(c, verdict, next) : next()
  }
  const rewoken = new WeakSet<Request>()
  const rewake = async (c: Context, resend: () => Promise<Response>) => {
    const request = c.req.raw
    if (rewoken.has(request)) return undefined
    rewoken.add(request)
    const outcome = await gate.rewake(toGateRequest(request), request.signal)
    if (outcome === undefined) return undefined
    if (outcome.kind === "reply") return toResponse(outcome)
    let answer: Response
    try {
      answer = await resend()
    } finally {
      gate.finished(outcome)
    }
    if (outcome.coldStartMs === undefined) return answer
    // A fetched Response's headers are immutable: answer with a copy that carries ours too.
    const headers = new Headers(answer.headers)
    headers.append("server-timing", coldStartServerTiming(outcome.coldStartMs))
    return new Response(answer.body, {
      status: answer.status,
      statusText: answer.statusText,
      headers,
    })
  }
  return Object.assign(middleware, { gate, close: () => gate.close(), rewake })
}

/** Context variables set by `horizontalScaling()`: `c.get("scaleRequest")`. */
export interface HorizontalScalingEnv {
  Variables: { scaleRequest: ScaleServiceRequest }
}

/**
 * OpenFaaS's scale-function handler: POST only (405), a JSON `{ serviceName, replicas,
 * namespace? }` body (400; 413 past 64 KiB), replicas clamped to 1..5. The next handler gets
 * `c.get("scaleRequest")` (parsed) and `c.req.raw`, a request carrying the normalised JSON
 * body, ready to forward (`fetch(upstream, c.req.raw)`).
 */
export function horizontalScaling(): MiddlewareHandler<HorizontalScalingEnv> {
  return async (c, next) => {
    const prepared = await prepareScaleRequest(c.req.raw)
    if (!prepared.ok) return prepared.refusal
    c.set("scaleRequest", prepared.scaleRequest)
    c.req.raw = prepared.forward
    await next()
  }
}

/**
 * The gate's status: JSON for `Accept: application/json`, else a live dashboard page; POST
 * `?action=wake|sleep&service=…&namespace=…` only when `authorize(c)` allows, same-origin only.
 * `app.all("/_status", statusHandler(middleware.gate, { authorize }))`.
 */
export function statusHandler(gate: Gate, options?: StatusHandlerOptions<Context>): Handler {
  const authorize = statusAuthorizer(options)
  return async (c) => {
    const authorized = await authorize(c)
    return toResponse(await answerStatusRequest(gate, toGateRequest(c.req.raw), authorized))
  }
}

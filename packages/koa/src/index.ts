import type { IncomingMessage, ServerResponse } from "node:http"
import {
  createGate,
  type Gate,
  type GateHold,
  type GateOptions,
  type GateReply,
  type StatusHandlerOptions,
} from "@scale-from-zero/core"
import {
  acceptPass,
  admitRequest,
  answerStatusRequest,
  gateUpgrade,
  prepareScaleRequest,
  rewakeService,
  type ScaleRequestFields,
  statusAuthorizer,
  toGateRequest,
  type UpgradeHandler,
  type UpgradeListener,
  waitForService,
} from "@scale-from-zero/core/node"

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
export type {
  ScaleRequestFields,
  UpgradeHandler,
  UpgradeListener,
} from "@scale-from-zero/core/node"

/**
 * The context `horizontalScaling()` hands on: `new Koa<DefaultState, ScaleRequestContext>()`
 * types `ctx.request.body` (the checked request) and `ctx.request.rawBody` (the JSON to forward).
 */
export interface ScaleRequestContext {
  request: ScaleRequestFields
}

/** A Koa (2 or 3) context as far as these middlewares use it. */
export interface KoaContext {
  req: IncomingMessage
  res: ServerResponse
  originalUrl: string
  request: object
  status: number
  body: unknown
  respond?: boolean | undefined
  set(headers: Record<string, string>): void
}
export type Next = () => Promise<unknown>

export interface ScaleFromZeroMiddleware {
  (context: KoaContext, next: Next): Promise<unknown> | undefined
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
   * The same gate in front of the server's WebSocket upgrades, which never pass through
   * middleware: `server.on("upgrade", middleware.upgrade(proxy.upgrade))`, or a `ws` server's
   * `(req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req))`.
   */
  upgrade(handler: UpgradeHandler): UpgradeListener
  /**
   * For a proxy whose upstream refused a request this middleware passed (connection refused,
   * 502/503) before any byte reached the client: holds it again while the service wakes, then
   * runs `resend` once. Resolves true when it re-sent or answered the request (404/502/504…),
   * false when it cannot help (not a service, rewoken once already, response begun).
   */
  rewake(context: KoaContext, resend: () => Promise<unknown>): Promise<boolean>
}

function respond(context: KoaContext, reply: GateReply): undefined {
  // Nobody is left to read it (and Koa refuses nginx's 499).
  if (context.res.destroyed) {
    context.respond = false
    return
  }
  context.status = reply.status
  context.set(reply.headers)
  context.body = reply.body
}

/**
 * Holds each request for a service without a ready replica until the service is ready
 * (scaling it from zero), then hands it on with its body unread; answers 400/404/502/503/504
 * itself. Requests for no service pass straight through.
 */
export function scaleFromZero(options: GateOptions): ScaleFromZeroMiddleware {
  const gate = createGate(options)
  const notWarm = (verdict: GateHold | GateReply, context: KoaContext, next: Next) => {
    if (verdict.kind === "reply") return respond(context, verdict)
    return waitForService(gate, verdict, context.res).then((outcome) => {
      if (outcome.kind === "reply") return respond(context, outcome)
      acceptPass(gate, outcome, context.res)
      return next()
    })
  }
  // No closure in here: a function whose closures capture its arguments allocates a context
  // for them on every call, even on the warm path that makes none.
  const middleware = (context: KoaContext, next: Next) => {
    const verdict = admitRequest(gate, context.req, context.originalUrl)
    if (verdict.kind !== "pass") return notWarm(verdict, context, next)
    acceptPass(gate, verdict, context.res)
    return next()
  }
  const rewake = async (context: KoaContext, resend: () => Promise<unknown>) => {
    const outcome = await rewakeService(gate, context.req, context.res, context.originalUrl)
    if (outcome === undefined) return false
    if (outcome.kind === "reply") {
      respond(context, outcome)
      return true
    }
    acceptPass(gate, outcome, context.res)
    await resend()
    return true
  }
  return Object.assign(middleware, {
    gate,
    close: () => gate.close(),
    rewake,
    upgrade: (handler: UpgradeHandler) => gateUpgrade(gate, handler),
  })
}

/**
 * OpenFaaS's scale-function handler: POST only (405), a JSON `{ serviceName, replicas,
 * namespace? }` body (400; 413 past 64 KiB), replicas clamped to 1..5. The next middleware gets
 * `ctx.request.body` (parsed) and `ctx.request.rawBody` (the normalised JSON a proxy forwards).
 */
export function horizontalScaling() {
  return async (context: KoaContext, next: Next): Promise<void> => {
    const prepared = await prepareScaleRequest(context.req)
    if (!prepared.ok) return respond(context, prepared.refusal)
    Object.assign(context.request, prepared.fields)
    await next()
  }
}

/**
 * The gate's status: JSON for `Accept: application/json`, else a live dashboard page; POST
 * `?action=wake|sleep&service=…&namespace=…` only when `authorize(ctx)` allows, same-origin only.
 * Route it where you like (it answers every request it is given).
 */
export function statusHandler(gate: Gate, options?: StatusHandlerOptions<KoaContext>) {
  const authorize = statusAuthorizer(options)
  return async (context: KoaContext): Promise<void> => {
    const authorized = await authorize(context)
    const gateRequest = toGateRequest(context.req, context.originalUrl)
    respond(context, await answerStatusRequest(gate, gateRequest, authorized))
  }
}

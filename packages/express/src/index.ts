import type { IncomingMessage, ServerResponse } from "node:http"
import {
  createGate,
  type Gate,
  type GateHold,
  type GateOptions,
  type GateReply,
  type ScaleServiceRequest,
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
  writeReply,
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
export type { UpgradeHandler, UpgradeListener } from "@scale-from-zero/core/node"

/** An Express (4 or 5) request as far as these middlewares read it. */
export type ExpressRequest = IncomingMessage & { originalUrl?: string; body?: unknown }
export type NextFunction = (error?: unknown) => void

export interface ScaleFromZeroMiddleware {
  (request: ExpressRequest, response: ServerResponse, next: NextFunction): void
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
   * calls `resend` once. Resolves true when it re-sent or answered the request (404/502/504…),
   * false when it cannot help (not a service, rewoken once already, response begun).
   */
  rewake(request: ExpressRequest, response: ServerResponse, resend: () => void): Promise<boolean>
}

/**
 * Holds each request for a service without a ready replica until the service is ready
 * (scaling it from zero), then hands it on with its body unread; answers 400/404/502/503/504
 * itself. Requests for no service pass straight through.
 */
export function scaleFromZero(options: GateOptions): ScaleFromZeroMiddleware {
  const gate = createGate(options)
  const notWarm = (
    verdict: GateHold | GateReply,
    response: ServerResponse,
    next: NextFunction,
  ): void => {
    if (verdict.kind === "reply") {
      writeReply(response, verdict)
      return
    }
    waitForService(gate, verdict, response).then((outcome) => {
      if (outcome.kind === "reply") return writeReply(response, outcome)
      acceptPass(gate, outcome, response)
      next()
    }, next)
  }
  // No closure in here: a function whose closures capture its arguments allocates a context
  // for them on every call, even on the warm path that makes none.
  const middleware = (request: ExpressRequest, response: ServerResponse, next: NextFunction) => {
    const verdict = admitRequest(gate, request, request.originalUrl)
    if (verdict.kind !== "pass") return notWarm(verdict, response, next)
    acceptPass(gate, verdict, response)
    return next()
  }
  const rewake = async (request: ExpressRequest, response: ServerResponse, resend: () => void) => {
    const outcome = await rewakeService(gate, request, response, request.originalUrl)
    if (outcome === undefined) return false
    if (outcome.kind === "reply") {
      writeReply(response, outcome)
      return true
    }
    acceptPass(gate, outcome, response)
    resend()
    return true
  }
  return Object.assign(middleware, {
    gate,
    close: () => gate.close(),
    rewake,
    upgrade: (handler: UpgradeHandler) => gateUpgrade(gate, handler),
  })
}

/** The request after `horizontalScaling()`: the scale request parsed, and the body to forward. */
export type ScaleRequestMessage = ExpressRequest & ScaleRequestFields

/** What `horizontalScaling()` declares of a route's request, so later handlers get a typed `req.body`. */
export type ScaleRoutedRequest = IncomingMessage & {
  originalUrl?: string
  body: ScaleServiceRequest
}

/**
 * OpenFaaS's scale-function handler: POST only (405), a JSON `{ serviceName, replicas,
 * namespace? }` body (400; 413 past 64 KiB), replicas clamped to 1..5. The next handler gets
 * `req.body` (parsed) and `req.rawBody` (the normalised JSON a proxy forwards).
 */
export function horizontalScaling() {
  // Typed as if `body` were set already: Express infers the route's body type from its first
  // handler, so the handlers after this one read `req.body` as a ScaleServiceRequest, no cast.
  return (request: ScaleRoutedRequest, response: ServerResponse, next: NextFunction): void => {
    prepareScaleRequest(request).then((prepared) => {
      if (!prepared.ok) return writeReply(response, prepared.refusal)
      Object.assign(request, prepared.fields)
      next()
    }, next)
  }
}

/**
 * The gate's status: JSON for `Accept: application/json`, else a live dashboard page; POST
 * `?action=wake|sleep&service=…&namespace=…` only when `authorize(req)` allows, same-origin only.
 * Mount it where you like: `app.use("/_status", statusHandler(middleware.gate, { authorize }))`.
 */
export function statusHandler(gate: Gate, options?: StatusHandlerOptions<ExpressRequest>) {
  const authorize = statusAuthorizer(options)
  return (request: ExpressRequest, response: ServerResponse, next: NextFunction): void => {
    authorize(request)
      .then((authorized) =>
        answerStatusRequest(gate, toGateRequest(request, request.originalUrl), authorized),
      )
      .then((reply) => writeReply(response, reply), next)
  }
}

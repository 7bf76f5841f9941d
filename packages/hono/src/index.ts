import {
  answerStatusRequest,
  createGate,
  type Gate,
  type GatePass,
  type ScaleFromZeroOptions,
  type ScaleServiceRequest,
  type StatusHandlerOptions,
  statusAuthorizer,
} from "@scale-from-zero/core"
import {
  coldStartServerTiming,
  countUntilDone,
  prepareScaleRequest,
  toGateRequest,
  toResponse,
  type WaitUntil,
  waitForService,
} from "@scale-from-zero/core/web"
import type { Context, Handler, MiddlewareHandler } from "hono"

export type {
  ScaleFromZeroOptions,
  ScaleServiceRequest,
  StatusHandlerOptions,
} from "@scale-from-zero/core"

export type ScaleFromZeroMiddleware = MiddlewareHandler & {
  /** The gate behind the middleware: `gate.close()` on shutdown ends every wait. */
  readonly gate: Gate
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
export function scaleFromZero(options: ScaleFromZeroOptions): ScaleFromZeroMiddleware {
  const gate = createGate(options)
  // Counts a tracked request in flight until its body has been sent or its WebSocket closed.
  const passTracked = async (c: Context, pass: GatePass, next: () => Promise<void>) => {
    try {
      await next()
    } catch (error) {
      gate.finished(pass)
      throw error
    }
    const counted = countUntilDone(gate, pass, c.res, c.env)
    if (counted === c.res) return
    // Cleared first: the setter would otherwise rebuild the response and copy its headers again.
    c.res = undefined
    c.res = counted
  }
  const middleware: MiddlewareHandler = (c, next) => {
    const request = c.req.raw
    const verdict = gate.admit(toGateRequest(request))
    if (verdict.kind === "pass") return verdict.inFlight ? passTracked(c, verdict, next) : next()
    if (verdict.kind === "reply") return Promise.resolve(toResponse(verdict))
    return waitForService(gate, verdict, request, executionContextOf(c), c.env).then(
      async (outcome) => {
        if (outcome.kind === "reply") return toResponse(outcome)
        await (outcome.inFlight ? passTracked(c, outcome, next) : next())
        if (outcome.coldStartMs !== undefined) {
          c.header("server-timing", coldStartServerTiming(outcome.coldStartMs), { append: true })
        }
      },
    )
  }
  return Object.assign(middleware, { gate })
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

import {
  createGate,
  type Gate,
  type GatePass,
  type ScaleFromZeroOptions,
  type ScaleServiceRequest,
} from "@scale-from-zero/core"
import {
  coldStartServerTiming,
  onBodyEnd,
  prepareScaleRequest,
  toGateRequest,
  toResponse,
  type WaitUntil,
  waitForService,
} from "@scale-from-zero/core/web"
import type { Context, MiddlewareHandler } from "hono"

export type { ScaleFromZeroOptions, ScaleServiceRequest } from "@scale-from-zero/core"

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
  // Counts a tracked request's end once its response body has ended (a stream may run long).
  const passTracked = async (c: Context, pass: GatePass, next: () => Promise<void>) => {
    try {
      await next()
    } catch (error) {
      gate.finished(pass)
      throw error
    }
    c.res = onBodyEnd(c.res, () => gate.finished(pass))
  }
  const middleware: MiddlewareHandler = (c, next) => {
    const request = c.req.raw
    const verdict = gate.admit(toGateRequest(request))
    if (verdict.kind === "pass") return verdict.inFlight ? passTracked(c, verdict, next) : next()
    if (verdict.kind === "reply") return Promise.resolve(toResponse(verdict))
    return waitForService(gate, verdict, request, executionContextOf(c)).then(async (outcome) => {
      if (outcome.kind === "reply") return toResponse(outcome)
      await (outcome.inFlight ? passTracked(c, outcome, next) : next())
      if (outcome.coldStartMs !== undefined) {
        c.header("server-timing", coldStartServerTiming(outcome.coldStartMs), { append: true })
      }
    })
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

import {
  createGate,
  type Gate,
  type GatePass,
  type ScaleFromZeroOptions,
  type ScaleServiceRequest,
} from "@scale-from-zero/core"
import {
  coldStartServerTiming,
  prepareScaleRequest,
  toGateRequest,
  toResponse,
  type WaitUntil,
  waitForService,
} from "@scale-from-zero/core/web"
import type { Context, MiddlewareHandler } from "hono"

export type { ScaleFromZeroOptions, ScaleServiceRequest } from "@scale-from-zero/core"

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
  // Counts a tracked request's end once the handlers are done (its body may still stream).
  const passTracked = async (pass: GatePass, next: () => Promise<void>) => {
    try {
      await next()
    } finally {
      gate.finished(pass)
    }
  }
  const middleware: MiddlewareHandler = (c, next) => {
    const request = c.req.raw
    const verdict = gate.admit(toGateRequest(request))
    if (verdict.kind === "pass") return verdict.inFlight ? passTracked(verdict, next) : next()
    if (verdict.kind === "reply") return Promise.resolve(toResponse(verdict))
    return waitForService(gate, verdict, request, executionContextOf(c)).then(async (outcome) => {
      if (outcome.kind === "reply") return toResponse(outcome)
      await (outcome.inFlight ? passTracked(outcome, next) : next())
      if (outcome.coldStartMs !== undefined) {
        c.header("server-timing", coldStartServerTiming(outcome.coldStartMs), { append: true })
      }
    })
  }
  return Object.assign(middleware, { gate, close: () => gate.close() })
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

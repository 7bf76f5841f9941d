import {
  coldStartServerTiming,
  createGate,
  type Gate,
  type GateHold,
  type GatePass,
  type GateReply,
  type GateRequest,
  readScaleRequest,
  type ScaleFromZeroOptions,
  type ScaleServiceRequest,
  scaleRefusalReply,
} from "@scale-from-zero/core"
import type { Context, ExecutionContext, MiddlewareHandler } from "hono"

export type { ScaleFromZeroOptions, ScaleServiceRequest } from "@scale-from-zero/core"

export type ScaleFromZeroMiddleware = MiddlewareHandler & {
  /** The gate behind the middleware: `gate.close()` on shutdown ends every wait. */
  readonly gate: Gate
}

/** Path and query as sent, read off the absolute URL without parsing it. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2)
  return start === -1 ? "/" : url.slice(start)
}

/**
 * The gate reads headers only for a request it holds; @hono/node-server builds `Headers` on
 * first access, so a warm pass never touches them.
 */
class WebGateRequest implements GateRequest {
  readonly method: string
  readonly path: string
  constructor(private readonly request: Request) {
    this.method = request.method
    this.path = pathOf(request.url)
  }

  get headers(): Headers {
    return this.request.headers
  }
}

function toGateRequest(request: Request): GateRequest {
  return new WebGateRequest(request)
}

function toResponse(reply: GateReply): Response {
  return new Response(reply.body, { status: reply.status, headers: reply.headers })
}

/** The Workers ExecutionContext, or undefined where there is none (Hono throws on Node). */
function executionContextOf(c: Context): ExecutionContext | undefined {
  try {
    return c.executionCtx
  } catch {
    return undefined
  }
}

/**
 * workerd ties timers to the request that set them and drops them when it ends. A request
 * answered while its service still wakes (the waiting page) may be the one whose timers drive
 * the wake: keep it alive, through waitUntil, until the wake is over.
 */
function outliveWake(c: Context, gate: Gate, hold: GateHold): void {
  const { scaler } = gate
  const executionContext = executionContextOf(c)
  const settled = executionContext && scaler.wakeSettled(hold.name, hold.namespace)
  if (settled === undefined) return
  // A timer of this request's own keeps it from looking hung; it also bounds the wait.
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, scaler.config.timeout)
  })
  executionContext?.waitUntil(Promise.race([settled, bound]).finally(() => clearTimeout(timer)))
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
    // workerd cancels a request it sees waiting on nothing of its own as hung, and a held
    // request waits on a wake that another request's timers drive: this timer is its own.
    const keepAlive = setTimeout(() => {}, gate.scaler.config.timeout + 1000)
    return gate.wait(verdict, request.signal).then(async (outcome) => {
      clearTimeout(keepAlive)
      if (outcome.kind === "reply") {
        outliveWake(c, gate, verdict)
        return toResponse(outcome)
      }
      await (outcome.inFlight ? passTracked(outcome, next) : next())
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
    const request = c.req.raw
    const result = await readScaleRequest(request)
    if (!result.ok) return toResponse(scaleRefusalReply(result))
    const headers = new Headers(request.headers)
    headers.set("content-type", "application/json")
    headers.set("content-length", String(new TextEncoder().encode(result.body).byteLength))
    headers.delete("transfer-encoding")
    c.set("scaleRequest", result.request)
    c.req.raw = new Request(request.url, {
      method: request.method,
      headers,
      body: result.body,
      signal: request.signal,
    })
    await next()
  }
}

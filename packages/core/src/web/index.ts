/**
 * `@scale-from-zero/core/web`: the bridge between the gate and Web-standard `Request` /
 * `Response`, for adapters on fetch-style runtimes (Hono on Node, Workers, Deno, Bun).
 */
import {
  coldStartServerTiming,
  type Gate,
  type GateHold,
  type GatePass,
  type GateReply,
  type GateRequest,
} from "../gate.js"

export { readScaleRequest, scaleRefusalReply } from "../horizontal-scaling.js"
export { coldStartServerTiming }

/** The part of a Workers `ExecutionContext` the bridge uses. */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void
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

/** The request as `gate.admit` takes it. */
export function toGateRequest(request: Request): GateRequest {
  return new WebGateRequest(request)
}

export function toResponse(reply: GateReply): Response {
  return new Response(reply.body, { status: reply.status, headers: reply.headers })
}

/**
 * Holds the request until its service is ready or the gate answers otherwise; the wait ends at
 * once when `request.signal` aborts (the client left).
 *
 * workerd cancels a request it sees waiting on nothing of its own as hung, and a held request
 * waits on a wake that another request's timers may drive: the hold keeps a timer of its own.
 * A request answered while its service still wakes (the waiting page) may be the one whose
 * timers drive the wake: with `context` (the Workers ExecutionContext), it stays alive through
 * `waitUntil` until the wake is over, bounded by the timeout.
 */
export async function waitForService(
  gate: Gate,
  hold: GateHold,
  request: Request,
  context?: WaitUntil,
): Promise<GatePass | GateReply> {
  const { scaler } = gate
  const keepAlive = setTimeout(() => {}, scaler.config.timeout + 1000)
  let outcome: GatePass | GateReply
  try {
    outcome = await gate.wait(hold, request.signal)
  } finally {
    clearTimeout(keepAlive)
  }
  const settled =
    context && outcome.kind === "reply" && scaler.wakeSettled(hold.name, hold.namespace)
  if (settled) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, scaler.config.timeout)
    })
    context.waitUntil(Promise.race([settled, bound]).finally(() => clearTimeout(timer)))
  }
  return outcome
}

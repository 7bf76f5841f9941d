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

import {
  readScaleRequest,
  type ScaleServiceRequest,
  scaleRefusalReply,
} from "../horizontal-scaling.js"

export { coldStartServerTiming, readScaleRequest }

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

/**
 * The response with a body that calls `onEnd` once, when it has been read to the end, failed
 * or been cancelled (the client left): a streamed answer counts in flight until then. A
 * response without a body ends at once.
 */
export function onBodyEnd(response: Response, onEnd: () => void): Response {
  const source = response.body
  if (source === null) {
    onEnd()
    return response
  }
  const reader = source.getReader()
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    onEnd()
  }
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read()
        if (chunk.done) {
          end()
          controller.close()
        } else controller.enqueue(chunk.value)
      } catch (error) {
        end()
        controller.error(error)
      }
    },
    cancel(reason) {
      end()
      return reader.cancel(reason)
    },
  })
  return new Response(body, response)
}

/** A scale request read and checked: what to forward, or the refusal to answer with. */
export type PreparedScaleRequest =
  | { readonly ok: true; readonly scaleRequest: ScaleServiceRequest; readonly forward: Request }
  | { readonly ok: false; readonly refusal: Response }

/**
 * Reads and checks a scale request (405, 413, 400 as `readScaleRequest`); a good one comes back
 * parsed, with a Request carrying its normalised JSON body, ready to forward.
 */
export async function prepareScaleRequest(request: Request): Promise<PreparedScaleRequest> {
  const result = await readScaleRequest(request)
  if (!result.ok) return { ok: false, refusal: toResponse(scaleRefusalReply(result)) }
  const headers = new Headers(request.headers)
  headers.set("content-type", "application/json")
  headers.set("content-length", String(new TextEncoder().encode(result.body).byteLength))
  headers.delete("transfer-encoding")
  const forward = new Request(request.url, {
    method: request.method,
    headers,
    body: result.body,
    signal: request.signal,
  })
  return { ok: true, scaleRequest: result.request, forward }
}

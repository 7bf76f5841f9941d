/**
 * `@scale-from-zero/core/web`: the bridge between the gate and Web-standard `Request` /
 * `Response`, for adapters on fetch-style runtimes (Hono on Node, Workers, Deno, Bun).
 */

import { countUntilClosed, type NodeClosable } from "../count-until-closed.js"
import {
  coldStartServerTiming,
  type Gate,
  type GateHold,
  type GatePass,
  type GateReply,
  type GateRequest,
  type GateVerdict,
  type Traffic,
} from "../gate.js"
import { type HeldNodeResponse, HeldResponse } from "../held-response.js"
import { type HeldSocket, watchHeldSocket } from "../held-socket.js"
import {
  readScaleRequest,
  type ScaleServiceRequest,
  scaleRefusalReply,
} from "../horizontal-scaling.js"
import { admitThroughReusedView, admitWarm } from "../reused-view.js"

// The status page is served by every adapter: its request handling lives here, once.
export { answerStatusRequest, statusAuthorizer } from "../status-page.js"

export { coldStartServerTiming, readScaleRequest }

/** The part of a Workers `ExecutionContext` the bridge uses. */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void
}

/** Where the path begins in an absolute URL, or -1 when it has none. */
function pathStart(url: string): number {
  // A serialized URL's scheme has no "/": after "http://" or "https://" the host begins at 7 or
  // 8, found without searching for "//".
  const host =
    url.charCodeAt(4) === 58 && url.charCodeAt(5) === 47 && url.charCodeAt(6) === 47
      ? 7
      : url.charCodeAt(5) === 58 && url.charCodeAt(6) === 47 && url.charCodeAt(7) === 47
        ? 8
        : url.indexOf("//") + 2
  return url.indexOf("/", host)
}

/** Path and query as sent, read off the absolute URL without parsing it. */
function pathOf(url: string): string {
  const start = pathStart(url)
  return start === -1 ? "/" : url.slice(start)
}

type WebRequestHead = Pick<Request, "method" | "headers">
const NO_REQUEST: WebRequestHead = {
  method: "GET",
  get headers() {
    return new Headers()
  },
}

/**
 * The gate reads headers only for a request it holds; @hono/node-server builds `Headers` on
 * first access, so a warm pass never touches them.
 */
class WebGateRequest implements GateRequest {
  constructor(
    private request: WebRequestHead,
    public path: string,
  ) {}

  // Read when asked: a warm pass never reads it.
  get method(): string {
    return this.request.method
  }

  /** Points this view at another request: `admitRequest` reuses one view for all. */
  point(request: WebRequestHead, path: string): void {
    this.request = request
    this.path = path
  }

  get headers(): Headers {
    return this.request.headers
  }
}

/** The request as `gate.admit` takes it. */
export function toGateRequest(request: Request): GateRequest {
  return new WebGateRequest(request, pathOf(request.url))
}

const admitThroughView = admitThroughReusedView<WebRequestHead>(
  new WebGateRequest(NO_REQUEST, "/"),
  NO_REQUEST,
  (request, path) => new WebGateRequest(request, path),
)

/**
 * `gate.admit(toGateRequest(request))` without making a view per request; a warm request for a
 * recently resolved service is read in place in the URL, with no view at all. `knownPath` is the
 * URL's path a framework has already read off it (Hono's `c.req.path`): used when the URL's
 * path and query are exactly it, so no string is sliced. The GateRequest the gate's callbacks
 * (resolve, wake, keepsAwake, hints) receive is valid during their call only.
 */
export function admitRequest(gate: Gate, request: Request, knownPath?: string): GateVerdict {
  const url = request.url
  const start = pathStart(url)
  const warm = start === -1 ? undefined : admitWarm(gate, url, start)
  if (warm !== undefined) return warm
  const path =
    knownPath !== undefined &&
    start !== -1 &&
    url.length - start === knownPath.length &&
    // The same test as startsWith(knownPath, start) at that length, several times faster in V8.
    url.endsWith(knownPath)
      ? knownPath
      : pathOf(url)
  return admitThroughView(gate, request, path)
}

export function toResponse(reply: GateReply): Response {
  return new Response(reply.body, { status: reply.status, headers: reply.headers })
}

/**
 * Holds the request until its service is ready or the gate answers otherwise; the wait ends at
 * once when the client leaves: `request.signal` aborts, or on @hono/node-server (`env`, the
 * runtime's bindings) its Node response closes first (a held WebSocket upgrade: its socket).
 *
 * workerd cancels a request it sees waiting on nothing of its own as hung, and a held request
 * waits on a wake that another request's timers may drive: the hold keeps a timer of its own.
 * A request answered while its service still wakes (the waiting page) may be the one whose
 * timers drive the wake: with `context` (the Workers ExecutionContext), it stays alive through
 * `waitUntil` until the wake is over, bounded by the timeout.
 */
export function waitForService(
  gate: Gate,
  hold: GateHold,
  request: Request,
  context?: WaitUntil,
  env?: unknown,
): Promise<GatePass | GateReply> {
  const outgoing = (env as NodeBindings | undefined)?.outgoing
  // On Node the response is the wait's signal: `request.signal` would make an AbortController,
  // and neither a keep-alive timer (for workerd) nor a frame of its own is needed.
  if (typeof outgoing?.off === "function") {
    return gate.wait(hold, new HeldResponse(outgoing as HeldNodeResponse))
  }
  return waitElsewhere(gate, hold, request, context, env)
}

async function waitElsewhere(
  gate: Gate,
  hold: GateHold,
  request: Request,
  context: WaitUntil | undefined,
  env: unknown,
): Promise<GatePass | GateReply> {
  const { scaler } = gate
  const keepAlive = setTimeout(() => {}, scaler.config.timeout + 1000)
  // @hono/node-server gives an upgrade request a signal that never aborts: watch its socket.
  const node = env as NodeBindings | undefined
  const socket = node?.outgoing ? undefined : node?.incoming?.socket
  const upgrade = socket?.on === undefined ? undefined : new AbortController()
  const release =
    upgrade && watchHeldSocket(socket as HeldSocket, () => upgrade.abort(new Error("client left")))
  let outcome: GatePass | GateReply
  try {
    outcome = await gate.wait(hold, upgrade?.signal ?? request.signal)
  } finally {
    clearTimeout(keepAlive)
    release?.()
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

/** @hono/node-server's bindings (`c.env`): the Node request and, unless upgraded, its response. */
interface NodeBindings {
  incoming?: { socket?: NodeClosable & Traffic & Partial<HeldSocket> }
  outgoing?: NodeClosable & Partial<HeldNodeResponse>
}

/** Counters for a body streamed through the web bridge: its bytes are its traffic. */
class BodyTraffic implements Traffic {
  readonly bytesRead = 0
  bytesWritten = 0
}

/**
 * Counts a tracked pass in flight until its response is done, and returns the response to send.
 * On Node (@hono/node-server, whose bindings are `env`) until the Node response closes, or for a
 * WebSocket the upgraded socket: the socket's bytes are the traffic. Elsewhere until the body has
 * been read to its end or cancelled (the response comes back with its body wrapped), at once
 * for a response without a body.
 */
export function countUntilDone(
  gate: Gate,
  pass: GatePass,
  response: Response,
  env?: unknown,
): Response {
  const node = env as NodeBindings | undefined
  const closable = node?.outgoing ?? node?.incoming?.socket
  if (closable !== undefined && typeof closable.on === "function") {
    countUntilClosed(gate, pass, closable)
    return response
  }
  const { body } = response
  if (body === null) {
    gate.finished(pass)
    return response
  }
  const traffic = new BodyTraffic()
  const done = gate.open(pass, traffic)
  const reader = body.getReader()
  const counted = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const chunk = await reader.read()
          if (chunk.done) {
            done()
            controller.close()
            return
          }
          traffic.bytesWritten += chunk.value.byteLength
          controller.enqueue(chunk.value)
        } catch (error) {
          done()
          controller.error(error)
        }
      },
      cancel(reason) {
        done()
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
  return new Response(counted, response)
}

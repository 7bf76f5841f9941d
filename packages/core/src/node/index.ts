import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http"
import type { Socket } from "node:net"
import type { Duplex } from "node:stream"
import { countUntilClosed } from "../count-until-closed.js"
import {
  coldStartServerTiming,
  type Gate,
  type GateHold,
  type GatePass,
  type GateReply,
  type GateRequest,
  type GateVerdict,
  type HeaderReader,
} from "../gate.js"
import { ClientClosedError, HeldResponse } from "../held-response.js"
import { watchHeldSocket } from "../held-socket.js"
import {
  type HorizontalScalingResult,
  MAX_SCALE_REQUEST_BYTES,
  normalizeScaleRequest,
  SCALE_REQUEST_TOO_LARGE,
  type ScaleServiceRequest,
  scaleRefusalReply,
} from "../horizontal-scaling.js"
import { admitThroughReusedView, admitWarm } from "../reused-view.js"

// The status page is served by every adapter: its request handling lives here, once.
export { answerStatusRequest, statusAuthorizer } from "../status-page.js"

type NodeRequestHead = Pick<IncomingMessage, "method" | "headers">
const NO_REQUEST: NodeRequestHead = { method: "GET", headers: {} }

/**
 * The gate's view of a Node request: reads Node's lower-cased header object in place,
 * so admitting a request copies no header.
 */
class NodeGateRequest implements GateRequest, HeaderReader {
  readonly headers: HeaderReader = this
  constructor(
    private request: NodeRequestHead,
    public path: string,
  ) {}

  // Read when asked: a warm pass never reads it.
  get method(): string {
    return this.request.method ?? "GET"
  }

  /** Points this view at another request: `admitRequest` reuses one view for all. */
  point(request: NodeRequestHead, path: string): void {
    this.request = request
    this.path = path
  }

  get(name: string): string | undefined {
    const value = this.request.headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(", ") : value
  }
}

/** The request as `gate.admit` takes it; `path` defaults to `request.url` (pass Express's `originalUrl`). */
export function toGateRequest(request: IncomingMessage, path = request.url ?? "/"): GateRequest {
  return new NodeGateRequest(request, path)
}

const admitThroughView = admitThroughReusedView<NodeRequestHead>(
  new NodeGateRequest(NO_REQUEST, "/"),
  NO_REQUEST,
  (request, path) => new NodeGateRequest(request, path),
)

/**
 * `gate.admit(toGateRequest(request, path))` without making a view per request (none at all for
 * a warm request for a recently resolved service): the warm path allocates nothing. The
 * GateRequest the gate's callbacks (resolve, wake, keepsAwake, hints) receive is valid during
 * their call only.
 */
export function admitRequest(
  gate: Gate,
  request: IncomingMessage,
  path = request.url ?? "/",
): GateVerdict {
  return admitWarm(gate, path, 0) ?? admitThroughView(gate, request, path)
}

export { ClientClosedError }

/**
 * Holds the request until its service is ready (or the gate answers otherwise), ending the
 * wait at once if the client closes its connection first. The request body is not read:
 * it stays in the socket for whatever handles the request next.
 * Adds one `close` listener to `response` while the gate waits, and removes it when the wait ends.
 */
export function waitForService(
  gate: Gate,
  hold: GateHold,
  response: ServerResponse,
): Promise<GatePass | GateReply> {
  // The response is the wait's signal: no AbortController, no frame of its own per held request.
  return gate.wait(hold, new HeldResponse(response))
}

const rewoken = new WeakSet<IncomingMessage>()

/**
 * `gate.rewake` for a proxy whose upstream refused a passed request (connection refused,
 * 502/503) before any byte reached the client: a pass (send the request once more), a reply
 * to answer with, or undefined when the gate cannot help (not a service, rewoken once already,
 * or the response has begun): answer the failure yourself.
 */
export function rewakeService(
  gate: Gate,
  request: IncomingMessage,
  response: ServerResponse,
  path = request.url ?? "/",
): Promise<GatePass | GateReply | undefined> {
  if (rewoken.has(request) || response.headersSent || response.destroyed) {
    return Promise.resolve(undefined)
  }
  rewoken.add(request)
  return gate.rewake(toGateRequest(request, path), new HeldResponse(response))
}

/**
 * Prepares `response` for a request the gate let through: the `Server-Timing` cold start
 * when it was held, the in-flight count when the gate tracks one. Costs nothing on a warm pass.
 */
export function acceptPass(gate: Gate, pass: GatePass, response: ServerResponse): void {
  if (pass.coldStartMs !== undefined) {
    appendAsHeadersGo(response, "server-timing", coldStartServerTiming(pass.coldStartMs))
  }
  if (pass.inFlight !== undefined) reportFinished(gate, pass, response)
}

type WriteHead = ServerResponse["writeHead"]
type HeadWithoutHeaders = (this: ServerResponse, code: number, message?: string) => ServerResponse

/**
 * Appends a header value when the response head is written, after the handlers' own values:
 * a proxy copying the upstream's `Server-Timing` (by setHeader or in writeHead) keeps ours too.
 * Wraps this one response's writeHead, which `end()` also goes through, once.
 */
function appendAsHeadersGo(response: ServerResponse, name: string, value: string): void {
  const writeHead = response.writeHead
  response.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    response.writeHead = writeHead
    const [first, second] = rest
    const statusMessage = typeof first === "string" ? first : undefined
    const headers = typeof first === "string" ? second : first
    if (Array.isArray(headers)) {
      // Node's flat form: [name, value, name, value, …].
      for (let i = 0; i + 1 < headers.length; i += 2) this.appendHeader(headers[i], headers[i + 1])
    } else if (headers !== undefined && headers !== null) {
      for (const [key, headerValue] of Object.entries(headers)) {
        if (headerValue !== undefined) this.setHeader(key, headerValue)
      }
    }
    this.appendHeader(name, value)
    return (writeHead as HeadWithoutHeaders).call(this, statusCode, statusMessage)
  } as WriteHead
}

/**
 * Counts a tracked pass in flight until the response has ended or its connection closed: Node
 * emits `close` on a response in both cases, after `finish` when it completed, so a streamed
 * (SSE, piped) body counts until its last byte. The socket's byte counts are its traffic.
 */
export function reportFinished(gate: Gate, pass: GatePass, response: ServerResponse): void {
  countUntilClosed(gate, pass, response)
}

/** Sends a gate reply, unless the client is already gone or an answer already began. */
export function writeReply(response: ServerResponse, reply: GateReply): void {
  if (response.destroyed || response.headersSent) return
  response.writeHead(reply.status, {
    ...reply.headers,
    "content-length": Buffer.byteLength(reply.body),
  })
  response.end(reply.body)
}

/**
 * Reads and checks a scale request (`POST {serviceName, replicas, namespace?}`): 405 for another
 * method (the body left unread), 413 past MAX_SCALE_REQUEST_BYTES (reading stops there), 400 for
 * a bad body, or one that cannot be read (the client went away mid-body). Never rejects.
 */
export function readScaleRequest(request: IncomingMessage): Promise<HorizontalScalingResult> {
  const method = request.method ?? "GET"
  if (method.toUpperCase() !== "POST") return Promise.resolve(normalizeScaleRequest(method, ""))
  if (Number(request.headers["content-length"]) > MAX_SCALE_REQUEST_BYTES) {
    return Promise.resolve(SCALE_REQUEST_TOO_LARGE)
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = () => {
      request.off("data", onData)
      request.off("end", onEnd)
      request.off("error", onError)
      request.off("close", onClose)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_SCALE_REQUEST_BYTES) {
        chunks.push(chunk)
        return
      }
      // Stop reading, but keep the socket: the 413 answer still has to go out.
      stop()
      request.pause()
      resolve(SCALE_REQUEST_TOO_LARGE)
    }
    const onEnd = () => {
      stop()
      resolve(normalizeScaleRequest(method, Buffer.concat(chunks, size).toString("utf8")))
    }
    const unreadable = (reason: string) => {
      stop()
      resolve({ ok: false, status: 400, message: `Error reading request body: ${reason}` })
    }
    const onError = (error: Error) => unreadable(error.message)
    const onClose = () => {
      if (!request.readableEnded) unreadable("the connection closed")
    }
    request.on("data", onData)
    request.on("end", onEnd)
    request.on("error", onError)
    request.on("close", onClose)
  })
}

/**
 * Rewrites the request headers for the normalised scale request body that replaces the one
 * read, so a proxy forwarding that body sends a consistent request.
 */
export function describeScaleBody(request: IncomingMessage, body: string): void {
  request.headers["content-length"] = String(Buffer.byteLength(body))
  request.headers["content-type"] = "application/json"
  delete request.headers["transfer-encoding"]
}

/** The fields `horizontalScaling()` gives a request: the parsed scale request and the body to forward. */
export interface ScaleRequestFields {
  body: ScaleServiceRequest
  /** The normalised JSON body; Content-Length describes it. Forward this, not the spent stream. */
  rawBody: string
}

/** A scale request read and checked: its fields, or the refusal to answer with. */
export type PreparedScaleRequest =
  | { readonly ok: true; readonly fields: ScaleRequestFields }
  | { readonly ok: false; readonly refusal: GateReply }

/**
 * Reads and checks a scale request (405, 413, 400 as `readScaleRequest`); for a good one the
 * request's headers are rewritten to describe the normalised body that replaces the one read.
 */
export async function prepareScaleRequest(request: IncomingMessage): Promise<PreparedScaleRequest> {
  const result = await readScaleRequest(request)
  if (!result.ok) return { ok: false, refusal: scaleRefusalReply(result) }
  describeScaleBody(request, result.body)
  return { ok: true, fields: { body: result.request, rawBody: result.body } }
}

/**
 * The handler an upgrade is handed to once let through: http-proxy-middleware's `upgrade` (typed
 * with a `net.Socket`) or a `ws` server's `handleUpgrade` (a `Duplex`) both fit, since Node's
 * http server hands its `upgrade` listeners a `net.Socket`.
 */
export type UpgradeHandler = (request: IncomingMessage, socket: Socket, head: Buffer) => void

/** A listener for Node's http server `upgrade` event. */
export type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void

/**
 * Writes a gate reply on a raw socket as a complete HTTP/1.1 response and closes it: the
 * answer to an upgrade request that is not let through. Nothing is written to a closed socket.
 */
export function writeSocketReply(socket: Duplex, reply: GateReply): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy()
    return
  }
  let head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ""}\r\n`
  for (const [name, value] of Object.entries(reply.headers)) head += `${name}: ${value}\r\n`
  head += `content-length: ${Buffer.byteLength(reply.body)}\r\nconnection: close\r\n\r\n`
  socket.end(head + reply.body)
}

/**
 * Puts the gate in front of an `upgrade` handler (WebSockets): `server.on("upgrade",
 * gateUpgrade(gate, handler))`. An upgrade for a service without a ready replica is held like
 * a request (same limits, events, timeout) and handed to `handler` once the service is ready;
 * a refusal is written to the socket as an HTTP response; a client that hangs up while held
 * is forgotten at once (what it sent meanwhile, up to MAX_HELD_UPGRADE_BYTES, reaches `handler`). With idle scale-down on, the connection counts in flight until the
 * socket closes, whichever side closes it. `path` maps the request to the path the gate reads.
 */
export function gateUpgrade(
  gate: Gate,
  handler: UpgradeHandler,
  path: (request: IncomingMessage) => string | undefined = (request) => request.url,
): UpgradeListener {
  const handOn = (pass: GatePass, request: IncomingMessage, socket: Duplex, head: Buffer) => {
    countUntilClosed(gate, pass, socket)
    handler(request, socket as Socket, head)
  }
  return (request, socket, head) => {
    const verdict = admitRequest(gate, request, path(request))
    if (verdict.kind === "pass") return handOn(verdict, request, socket, head)
    if (verdict.kind === "reply") return writeSocketReply(socket, verdict)
    holdUpgrade(gate, verdict, socket).then((outcome) => {
      if (outcome.kind === "reply") return writeSocketReply(socket, outcome)
      handOn(outcome, request, socket, head)
    })
  }
}

/** Holds an upgrade until the gate lets it through or answers, forgetting a client that hangs up. */
async function holdUpgrade(
  gate: Gate,
  hold: GateHold,
  socket: Duplex,
): Promise<GatePass | GateReply> {
  const controller = new AbortController()
  const release = watchHeldSocket(socket, () => controller.abort(new ClientClosedError()))
  try {
    return await gate.wait(hold, controller.signal)
  } finally {
    release()
  }
}

export { MAX_HELD_UPGRADE_BYTES } from "../held-socket.js"
export {
  type ClusterShared,
  type ClusterSharedOptions,
  createClusterShared,
} from "./cluster.js"

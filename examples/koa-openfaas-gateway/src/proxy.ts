import type { IncomingHttpHeaders } from "node:http"
import type { Middleware, ParameterizedContext } from "koa"
import { type Dispatcher, Pool } from "undici"

// Headers for one connection only (RFC 9110 §7.6.1); `host`, which names the upstream now; and
// `expect`: Node's server has already answered a `100-continue` itself.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "expect",
])

/** `scaleFromZero(...).rewake`: holds a refused request again while its service wakes. */
export type Rewake = (ctx: ParameterizedContext, resend: () => Promise<unknown>) => Promise<boolean>

/** A request whose body can be sent again: this proxy streams bodies, it does not keep them. */
function hasNoBody(ctx: ParameterizedContext): boolean {
  const length = ctx.req.headers["content-length"]
  return ctx.req.headers["transfer-encoding"] === undefined && (!length || length === "0")
}

/** How one attempt ended: the answer is on its way to the client, refused (502/503), or failed. */
type Attempt = typeof ANSWERED | Refused | Error
const ANSWERED = "answered"
class Refused {
  constructor(readonly statusCode: number) {}
}

/** Errors that mean the upstream took too long, not that it refused: answered 504, never rewoken. */
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"])
const timedOut = (error: Error) => TIMEOUT_CODES.has((error as { code?: string }).code ?? "")

/** The client left: what the upstream request is aborted with. */
class ClientGoneError extends Error {
  constructor() {
    super("the client closed the connection")
  }
}

/**
 * One request to the upstream, its answer written straight to the client's response as it
 * arrives (no intermediate stream): undici's dispatch handler. `mayRefuse`: a 502/503 answer is
 * reported, and its body dropped, instead of being passed on (the request may be rewoken).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private streaming = false
  private settled = false
  private done = false
  private readonly onClientGone = () => {
    if (!this.done) this.controller?.abort(new ClientGoneError())
  }
  private readonly onDrain = () => this.controller?.resume()

  constructor(
    private readonly ctx: ParameterizedContext,
    private readonly mayRefuse: boolean,
    private readonly settle: (attempt: Attempt) => void,
  ) {
    ctx.res.on("close", this.onClientGone)
  }

  private finish(attempt: Attempt) {
    if (this.settled) return
    this.settled = true
    this.settle(attempt)
  }

  private release() {
    this.done = true
    this.ctx.res.off("close", this.onClientGone)
    this.ctx.res.off("drain", this.onDrain)
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller
    if (this.ctx.res.destroyed) controller.abort(new ClientGoneError())
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ) {
    if (statusCode < 200) return // 1xx: informational, the answer follows
    if (this.mayRefuse && (statusCode === 502 || statusCode === 503)) {
      this.finish(new Refused(statusCode)) // its body is read and dropped
      return
    }
    // The answer is written straight to the client: Koa's own response path would wrap it in a
    // stream pipeline (an AbortController and its DOMException per response).
    this.ctx.respond = false
    const response = this.ctx.res
    for (const name in headers) {
      const value = headers[name]
      if (value !== undefined && !HOP_BY_HOP.has(name)) response.setHeader(name, value)
    }
    response.writeHead(statusCode)
    this.streaming = true
    this.finish(ANSWERED)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer) {
    if (this.streaming && !this.ctx.res.write(chunk)) {
      controller.pause()
      this.ctx.res.once("drain", this.onDrain)
    }
  }

  onResponseEnd() {
    this.release()
    if (this.streaming) this.ctx.res.end()
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error) {
    this.release()
    // Broken off mid-answer: the client's answer cannot be completed either.
    if (this.streaming) this.ctx.res.destroy()
    this.finish(error)
  }
}

/**
 * Forwards the request, body and all, to `upstream` + its path, and streams the answer back:
 * 502 when the upstream cannot be reached, 504 when it sends no answer within `timeoutMs`.
 * A client that leaves takes its upstream request with it. With `rewake`, a request without a
 * body that the upstream refuses (its service was scaled to zero behind the gateway's back) is
 * held again while the service wakes, and sent once more.
 */
export function forwardTo(upstream: string, timeoutMs: number, rewake?: Rewake): Middleware {
  const base = new URL(upstream)
  const basePath = base.pathname.replace(/\/+$/, "")
  // Connections to the upstream are kept and reused, at most UPSTREAM_CONNECTIONS at once: a
  // burst of released requests queues for them instead of opening a connection each.
  const pool = new Pool(base.origin, {
    connections: UPSTREAM_CONNECTIONS,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  })

  /** One attempt: the answer is on its way to the client, or why there is none. */
  const attempt = (ctx: ParameterizedContext, mayRefuse: boolean) =>
    new Promise<Attempt>((settle) => {
      const incoming = ctx.req.headers
      const headers: Record<string, string | string[]> = {}
      for (const name in incoming) {
        const value = incoming[name]
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value
      }
      const forwardedFor = incoming["x-forwarded-for"]
      const remote = ctx.req.socket.remoteAddress ?? ""
      headers["x-forwarded-for"] = forwardedFor ? `${forwardedFor}, ${remote}` : remote
      headers["x-forwarded-host"] = ctx.host
      headers["x-forwarded-proto"] = ctx.protocol
      pool.dispatch(
        {
          path: `${basePath}${ctx.originalUrl}`,
          method: ctx.method as Dispatcher.HttpMethod,
          headers,
          body: hasNoBody(ctx) ? null : ctx.req,
        },
        new Exchange(ctx, mayRefuse, settle),
      )
    })

  const fail = (ctx: ParameterizedContext, error: Error) => {
    const late = timedOut(error)
    ctx.status = late ? 504 : 502
    ctx.body = late
      ? `upstream gave no answer within ${timeoutMs}ms`
      : `cannot reach the upstream: ${error.message}`
  }

  return async (ctx) => {
    const mayRefuse = rewake !== undefined && hasNoBody(ctx)
    const result = await attempt(ctx, mayRefuse)
    if (result === ANSWERED) return
    if (result instanceof Error && (!mayRefuse || timedOut(result))) return fail(ctx, result)
    let again: Attempt | undefined
    const handled = await (rewake as Rewake)(ctx, async () => {
      again = await attempt(ctx, false)
    })
    if (again === ANSWERED) return
    if (again instanceof Error) return fail(ctx, again)
    // The gate answered the request itself (404, 502, 504…), or nothing could be done.
    if (handled && again === undefined) return
    fail(ctx, new Error(`the upstream refused the request (${describe(result)})`))
  }
}

function describe(result: Refused | Error): string {
  return result instanceof Error ? result.message : `status ${result.statusCode}`
}

/**
 * Connections kept open to the upstream at most; more requests at once queue for one. Measured
 * releasing 1 000 held requests: 64–128 cost the least CPU; 256, 1 024 or no bound cost
 * 25–50 % more (connection set-up) and answered no sooner.
 */
const UPSTREAM_CONNECTIONS = 128

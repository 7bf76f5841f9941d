import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http"
import { Agent as HttpsAgent, request as httpsRequest } from "node:https"
import type { Middleware, ParameterizedContext } from "koa"

// Headers for one connection only (RFC 9110 §7.6.1), and `host`, which names the upstream now.
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
])

/** `scaleFromZero(...).rewake`: holds a refused request again while its service wakes. */
export type Rewake = (ctx: ParameterizedContext, resend: () => Promise<unknown>) => Promise<boolean>

/** A request whose body can be sent again: this proxy streams bodies, it does not keep them. */
function hasNoBody(request: IncomingMessage): boolean {
  const length = request.headers["content-length"]
  return request.headers["transfer-encoding"] === undefined && (!length || length === "0")
}

/** The upstream refused the request: no connection, or 502/503 (no replica behind it). */
function refused(result: IncomingMessage | Error): boolean {
  if (result instanceof Error) return !(result instanceof UpstreamTimeoutError)
  return result.statusCode === 502 || result.statusCode === 503
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
  const prefix = `${base.origin}${base.pathname.replace(/\/+$/, "")}`
  const secure = base.protocol === "https:"
  const send = secure ? httpsRequest : httpRequest
  // Connections to the upstream are kept and reused, at most UPSTREAM_CONNECTIONS at once: a
  // burst of released requests queues for them instead of opening a connection each.
  const agentOptions = {
    keepAlive: true,
    maxSockets: UPSTREAM_CONNECTIONS,
    scheduling: "lifo" as const,
  }
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions)

  /** One attempt: the upstream's answer (its body unread), or why there is none. */
  const attempt = (ctx: ParameterizedContext) =>
    new Promise<IncomingMessage | Error>((resolve) => {
      const headers: Record<string, string | string[]> = {}
      for (const [name, value] of Object.entries(ctx.req.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value
      }
      const forwardedFor = ctx.req.headers["x-forwarded-for"]
      headers["x-forwarded-for"] = forwardedFor
        ? `${forwardedFor}, ${ctx.req.socket.remoteAddress}`
        : (ctx.req.socket.remoteAddress ?? "")
      headers["x-forwarded-host"] = ctx.host
      headers["x-forwarded-proto"] = ctx.protocol

      let answered = false
      const outgoing = send(`${prefix}${ctx.originalUrl}`, {
        method: ctx.method,
        headers,
        agent,
        timeout: timeoutMs,
      })
      const onClientGone = () => {
        if (!answered) outgoing.destroy()
      }
      ctx.res.once("close", onClientGone)

      outgoing.once("response", (incoming: IncomingMessage) => {
        answered = true
        ctx.res.off("close", onClientGone)
        resolve(incoming)
      })
      outgoing.once("timeout", () => {
        outgoing.destroy(new UpstreamTimeoutError(timeoutMs))
      })
      outgoing.once("error", (error) => {
        ctx.res.off("close", onClientGone)
        if (!answered) resolve(error)
      })
      if (hasNoBody(ctx.req)) outgoing.end()
      else ctx.req.pipe(outgoing)
    })

  const deliver = (ctx: ParameterizedContext, result: IncomingMessage | Error) => {
    if (result instanceof Error) {
      const timedOut = result instanceof UpstreamTimeoutError
      ctx.status = timedOut ? 504 : 502
      ctx.body = timedOut
        ? `upstream gave no answer within ${timeoutMs}ms`
        : `cannot reach the upstream: ${result.message}`
      return
    }
    // The answer is piped straight to the client: Koa's own response path would wrap it in a
    // stream pipeline (an AbortController and its DOMException per response).
    ctx.respond = false
    const response = ctx.res
    for (const [name, value] of Object.entries(result.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) response.setHeader(name, value)
    }
    response.writeHead(result.statusCode ?? 502)
    const onClientGone = () => {
      if (!result.complete) result.destroy()
    }
    response.once("close", onClientGone)
    result.once("error", () => response.destroy())
    result.once("end", () => response.off("close", onClientGone))
    result.pipe(response)
  }

  return async (ctx) => {
    const result = await attempt(ctx)
    if (rewake === undefined || !refused(result) || !hasNoBody(ctx.req)) {
      return deliver(ctx, result)
    }
    if (!(result instanceof Error)) result.resume() // the refusal's own body is not needed
    let again: IncomingMessage | Error | undefined
    const handled = await rewake(ctx, async () => {
      again = await attempt(ctx)
    })
    // The gate answered the request itself (404, 502, 504…), or nothing could be done.
    if (handled && again === undefined) return
    deliver(ctx, again ?? new Error(`the upstream refused the request (${describe(result)})`))
  }
}

function describe(result: IncomingMessage | Error): string {
  return result instanceof Error ? result.message : `status ${result.statusCode}`
}

/** Connections kept open to the upstream at most; more requests at once queue for one. */
const UPSTREAM_CONNECTIONS = 128

class UpstreamTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs}ms`)
  }
}

import { request as httpRequest, type IncomingMessage } from "node:http"
import { request as httpsRequest } from "node:https"
import type { Middleware } from "koa"

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

/**
 * Forwards the request, body and all, to `upstream` + its path, and streams the answer back:
 * 502 when the upstream cannot be reached, 504 when it sends no answer within `timeoutMs`.
 * A client that leaves takes its upstream request with it.
 */
export function forwardTo(upstream: string, timeoutMs: number): Middleware {
  const base = new URL(upstream)
  const prefix = `${base.origin}${base.pathname.replace(/\/+$/, "")}`
  const send = base.protocol === "https:" ? httpsRequest : httpRequest

  return (ctx) =>
    new Promise<void>((resolve) => {
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
        timeout: timeoutMs,
      })
      const onClientGone = () => {
        if (!answered) outgoing.destroy()
      }
      ctx.res.once("close", onClientGone)

      outgoing.once("response", (incoming: IncomingMessage) => {
        answered = true
        ctx.res.off("close", onClientGone)
        ctx.status = incoming.statusCode ?? 502
        for (const [name, value] of Object.entries(incoming.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) ctx.set(name, value)
        }
        ctx.body = incoming
        resolve()
      })
      outgoing.once("timeout", () => {
        outgoing.destroy(new UpstreamTimeoutError(timeoutMs))
      })
      outgoing.once("error", (error) => {
        ctx.res.off("close", onClientGone)
        if (!answered) {
          const timedOut = error instanceof UpstreamTimeoutError
          ctx.status = timedOut ? 504 : 502
          ctx.body = timedOut
            ? `upstream gave no answer within ${timeoutMs}ms`
            : `cannot reach the upstream: ${error.message}`
        }
        resolve()
      })
      ctx.req.pipe(outgoing)
    })
}

class UpstreamTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs}ms`)
  }
}

// The gateway, Web APIs only: Hono with scale-from-zero in front of an OpenFaaS provider. The
// entry for each runtime (deno.ts, bun.ts) reads its settings and serves `app.fetch`.
import { parseDuration } from "@scale-from-zero/core"
import { scaleFromZero } from "@scale-from-zero/hono"
import { createOpenFaaSServiceQuery } from "@scale-from-zero/openfaas"
import { Hono } from "hono"
import { proxy } from "hono/proxy"

export interface GatewaySettings {
  /** The OpenFaaS gateway or provider: its `/system/functions` API and `/function/` routes. */
  providerUrl: string
  basicAuth?: { user: string; password: string }
  /** Namespace of a function named without one (`/function/figlet`); the gate's default when unset. */
  functionNamespace?: string
  /** How long a request is held while its function starts, in ms; the gate's default when unset. */
  timeoutMs?: number
}

/**
 * Reads OPENFAAS_URL (default http://127.0.0.1:8080), OPENFAAS_USER and OPENFAAS_PASSWORD, and
 * as the OpenFaaS gateway (and the Koa example) does `function_namespace` and `upstream_timeout`.
 */
export function readSettings(env: (name: string) => string | undefined): GatewaySettings {
  const password = env("OPENFAAS_PASSWORD")
  const functionNamespace = env("function_namespace")
  const timeout = env("upstream_timeout")
  return {
    // Paths are appended to it: `http://provider:8080/` must not make `//function/…`.
    providerUrl: (env("OPENFAAS_URL") || "http://127.0.0.1:8080").replace(/\/+$/, ""),
    ...(password !== undefined && {
      basicAuth: { user: env("OPENFAAS_USER") || "admin", password },
    }),
    ...(functionNamespace && { functionNamespace }),
    ...(timeout && { timeoutMs: readTimeout(timeout) }),
  }
}

/** The OpenFaaS gateway's rule: whole seconds (`65`) or a Go duration (`1m5s`, `500ms`). */
function readTimeout(raw: string): number {
  const ms = /^\d+$/.test(raw) ? Number(raw) * 1000 : parseDuration(raw)
  if (ms === undefined || ms <= 0) {
    throw new Error(
      `upstream_timeout must be seconds or a duration such as 1m30s, got ${JSON.stringify(raw)}`,
    )
  }
  return ms
}

export function createGateway(settings: GatewaySettings) {
  const { providerUrl, basicAuth, functionNamespace, timeoutMs } = settings
  const scaling = scaleFromZero({
    serviceQuery: createOpenFaaSServiceQuery({ url: providerUrl, ...(basicAuth && { basicAuth }) }),
    ...(functionNamespace !== undefined && { defaultNamespace: functionNamespace }),
    ...(timeoutMs !== undefined && { timeout: timeoutMs }),
    onEvent: (event) => console.log(JSON.stringify({ time: new Date().toISOString(), ...event })),
  })
  const app = new Hono()
  // Answered before the scaling middleware: a liveness probe never reaches the provider.
  app.all("/healthz", (c) => c.text("OK"))
  app.use(scaling)
  // Once the function is ready: forward to the provider, body unread until now, through Hono's
  // proxy helper: it drops hop-by-hop headers and hands a compressed answer on decoded, labelled
  // as such (a bare `fetch` would pass Bun's decoded body on as still gzip-encoded). The client's
  // signal goes with the request: a client that leaves aborts it (and is answered nothing).
  app.all("/function/*", async (c) => {
    const { pathname, search } = new URL(c.req.url)
    const request = c.req.raw
    const send = () => proxy(`${providerUrl}${pathname}${search}`, request)
    const failed = (error: Error) =>
      request.signal.aborted
        ? new Response(null, { status: 499 })
        : c.text(`cannot reach the provider: ${error.message}`, 502)
    // A body is streamed once: such a request gets the provider's answer, whatever it is.
    if (request.body !== null) return send().catch(failed)
    // A function scaled to zero behind the gateway's back (OpenFaaS's idler, an operator) may
    // still be cached as ready: the provider refuses the request (502/503, or no connection).
    // It is held again while the function wakes, and sent once more.
    const answer = await send().catch((error: Error) => error)
    if (!(answer instanceof Error) && answer.status !== 502 && answer.status !== 503) return answer
    // Not passed on: its connection is freed now, not when the wake is over.
    if (!(answer instanceof Error)) await answer.body?.cancel().catch(() => {})
    if (request.signal.aborted) return new Response(null, { status: 499 })
    const again = await scaling.rewake(c, send).catch((error: Error) => error)
    if (again instanceof Error) return failed(again)
    if (again !== undefined) return again
    return answer instanceof Error
      ? failed(answer)
      : c.text(`the provider refused the request (status ${answer.status})`, 502)
  })
  return { app, gate: scaling.gate }
}

// The gateway, Web APIs only: Hono with scale-from-zero in front of an OpenFaaS provider. The
// entry for each runtime (deno.ts, bun.ts) reads its settings and serves `app.fetch`.
import { scaleFromZero } from "@scale-from-zero/hono"
import { createOpenFaaSServiceQuery } from "@scale-from-zero/openfaas"
import { Hono } from "hono"
import { proxy } from "hono/proxy"

export interface GatewaySettings {
  /** The OpenFaaS gateway or provider: its `/system/functions` API and `/function/` routes. */
  providerUrl: string
  basicAuth?: { user: string; password: string }
}

/** Reads OPENFAAS_URL (default http://127.0.0.1:8080), OPENFAAS_USER and OPENFAAS_PASSWORD. */
export function readSettings(env: (name: string) => string | undefined): GatewaySettings {
  const password = env("OPENFAAS_PASSWORD")
  return {
    providerUrl: env("OPENFAAS_URL") ?? "http://127.0.0.1:8080",
    ...(password !== undefined && {
      basicAuth: { user: env("OPENFAAS_USER") ?? "admin", password },
    }),
  }
}

export function createGateway({ providerUrl, basicAuth }: GatewaySettings) {
  const scaling = scaleFromZero({
    serviceQuery: createOpenFaaSServiceQuery({ url: providerUrl, ...(basicAuth && { basicAuth }) }),
    onEvent: (event) => console.log(JSON.stringify({ time: new Date().toISOString(), ...event })),
  })
  const app = new Hono()
  app.use(scaling)
  // Once the function is ready: forward to the provider, body unread until now, through Hono's
  // proxy helper: it drops hop-by-hop headers and hands a compressed answer on decoded, labelled
  // as such (a bare `fetch` would pass Bun's decoded body on as still gzip-encoded). The client's
  // signal goes with the request: a client that leaves aborts it (and is answered nothing).
  app.all("/function/*", (c) => {
    const { pathname, search } = new URL(c.req.url)
    return proxy(`${providerUrl}${pathname}${search}`, c.req.raw).catch((error: Error) =>
      c.req.raw.signal.aborted
        ? new Response(null, { status: 499 })
        : c.text(`cannot reach the provider: ${error.message}`, 502),
    )
  })
  return { app, gate: scaling.gate }
}

import { createHash, randomBytes } from "node:crypto"
import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import {
  startHashingUpstream,
  startScalableUpstream,
  UPSTREAM_SERVER_TIMING,
} from "@scale-from-zero/test-kit/adapter-upstream"
import { Hono } from "hono"
import { afterEach, expect, it } from "vitest"
import { scaleFromZero } from "./index.js"

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

it("lets a fetch proxy after it forward a 1 MiB body held through a cold start, with both Server-Timings", async () => {
  const upstream = await startHashingUpstream()
  closers.push(upstream.close)
  const serviceQuery = createMemoryServiceQuery({ services: { echo: { startupDelayMs: 200 } } })
  const middleware = scaleFromZero({ serviceQuery })
  closers.push(async () => {
    middleware.close()
    serviceQuery.close()
  })
  const app = new Hono()
  app.use(middleware)
  app.all("/function/echo/*", (c) =>
    fetch(`${upstream.url}${c.req.path}`, {
      method: c.req.method,
      headers: c.req.raw.headers,
      body: c.req.raw.body,
      duplex: "half",
    } as RequestInit),
  )
  const gateway = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 })
  await new Promise((resolve) => gateway.once("listening", resolve))
  closers.push(() => new Promise((resolve) => gateway.close(resolve)))
  const { port } = gateway.address() as AddressInfo

  const body = randomBytes(1024 * 1024)
  const response = await fetch(`http://127.0.0.1:${port}/function/echo/upload`, {
    method: "POST",
    body,
  })
  expect(response.status).toBe(200)
  expect(await response.json()).toEqual({
    method: "POST",
    path: "/function/echo/upload",
    bytes: body.length,
    sha256: createHash("sha256").update(body).digest("hex"),
  })
  expect(response.headers.get("server-timing")).toMatch(
    new RegExp(`^${UPSTREAM_SERVER_TIMING}, cold-start;dur=\\d+$`),
  )
})

it("rewakes a request refused by a service scaled to zero behind its back, and re-sends it once (fetch proxy)", async () => {
  const upstream = await startScalableUpstream()
  closers.push(upstream.close)
  // Polled and trusted for a minute: only the refused connection can tell the service is gone.
  const gateway = scaleFromZero({ serviceQuery: upstream.serviceQuery, cacheExpiry: 60_000 })
  closers.push(async () => gateway.gate.close())
  const app = new Hono()
  app.use(gateway)
  // The README's proxy: a bodyless request can be sent again as it is.
  app.all("/function/*", async (c) => {
    const send = () => fetch(`${upstream.url}${c.req.path}`, { method: c.req.method })
    const answer = await send().catch(() => undefined)
    if (answer !== undefined && answer.status !== 502 && answer.status !== 503) return answer
    await answer?.body?.cancel().catch(() => {})
    return (await gateway.rewake(c, send).catch(() => undefined)) ?? c.text("bad gateway", 502)
  })
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 })
  await new Promise((resolve) => server.once("listening", resolve))
  closers.push(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`

  expect((await fetch(`${base}/function/echo/first`)).status).toBe(200)
  await upstream.scaleDownBehindGatewaysBack()
  const woken = await fetch(`${base}/function/echo/again`)
  expect(woken.status).toBe(200)
  expect(await woken.json()).toMatchObject({ method: "GET", path: "/function/echo/again" })
  expect(woken.headers.get("server-timing")).toMatch(
    new RegExp(`^${UPSTREAM_SERVER_TIMING}, cold-start;dur=\\d+$`),
  )
  expect(upstream.serviceQuery.calls.setReplicas).toBe(2)
  // Refused again after its one re-send, the request gets the proxy's own answer.
  await upstream.crash()
  const refused = await fetch(`${base}/function/echo/crashed`)
  expect(refused.status).toBe(502)
  expect(await refused.text()).toBe("bad gateway")
})

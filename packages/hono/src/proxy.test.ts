import { createHash, randomBytes } from "node:crypto"
import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import {
  startHashingUpstream,
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

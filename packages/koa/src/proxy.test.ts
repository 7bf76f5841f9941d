import { createHash, randomBytes } from "node:crypto"
import { createServer, request as httpRequest, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import {
  startHashingUpstream,
  startScalableUpstream,
  UPSTREAM_SERVER_TIMING,
} from "@scale-from-zero/test-kit/adapter-upstream"
import Koa from "koa"
import supertest from "supertest"
import { afterEach, expect, it } from "vitest"
import { type KoaContext, scaleFromZero } from "./index.js"

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** The simplest streaming proxy, the way Koa proxies work: Koa steps aside, the streams are piped. */
function pipeTo(upstream: string) {
  return (context: KoaContext) => {
    context.respond = false
    const forward = httpRequest(`${upstream}${context.originalUrl}`, {
      method: context.req.method,
      headers: context.req.headers,
    })
    forward.on("response", (answer) => {
      context.res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(context.res)
    })
    context.req.pipe(forward)
  }
}

it("lets a streaming proxy after it forward a 1 MiB body held through a cold start, with both Server-Timings", async () => {
  const upstream = await startHashingUpstream()
  closers.push(upstream.close)
  const serviceQuery = createMemoryServiceQuery({ services: { echo: { startupDelayMs: 200 } } })
  const middleware = scaleFromZero({ serviceQuery })
  closers.push(async () => {
    middleware.close()
    serviceQuery.close()
  })
  const app = new Koa()
  app.use(middleware)
  app.use(pipeTo(upstream.url))
  const gateway = createServer(app.callback())
  await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve))
  closers.push(() => new Promise((resolve) => gateway.close(resolve)))

  const body = randomBytes(1024 * 1024)
  const response = await supertest(`http://127.0.0.1:${(gateway.address() as AddressInfo).port}`)
    .post("/function/echo/upload")
    .set("content-type", "application/octet-stream")
    .send(body)
    .expect(200)
  expect(response.body).toEqual({
    method: "POST",
    path: "/function/echo/upload",
    bytes: body.length,
    sha256: createHash("sha256").update(body).digest("hex"),
  })
  expect(response.headers["server-timing"]).toMatch(
    new RegExp(`^${UPSTREAM_SERVER_TIMING}, cold-start;dur=\\d+$`),
  )
})

/** A bodyless request forwarded with Koa's streams; the answer, or the error it met. */
function attempt(upstream: string, context: KoaContext) {
  return new Promise<IncomingMessage | Error>((resolve) => {
    const forward = httpRequest(`${upstream}${context.originalUrl}`, { method: context.req.method })
    forward.once("response", resolve)
    forward.once("error", resolve)
    forward.end()
  })
}

it("rewakes a request refused by a service scaled to zero behind its back, and re-sends it once", async () => {
  const upstream = await startScalableUpstream()
  closers.push(upstream.close)
  // Polled and trusted for a minute: only the refused connection can tell the service is gone.
  const middleware = scaleFromZero({ serviceQuery: upstream.serviceQuery, cacheExpiry: 60_000 })
  closers.push(async () => middleware.gate.close())
  const app = new Koa()
  app.use(middleware)
  app.use(async (context) => {
    let result = await attempt(upstream.url, context)
    if (result instanceof Error) {
      let again: IncomingMessage | Error | undefined
      const handled = await middleware.rewake(context, async () => {
        again = await attempt(upstream.url, context)
      })
      if (handled && again === undefined) return
      result = again ?? result
    }
    if (result instanceof Error) {
      context.status = 502
      context.body = `bad gateway: ${result.message}`
      return
    }
    context.status = result.statusCode ?? 502
    context.set("server-timing", String(result.headers["server-timing"]))
    context.type = "json"
    context.body = result
  })
  const gateway = createServer(app.callback())
  await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve))
  closers.push(() => new Promise((resolve) => gateway.close(resolve)))
  const http = supertest(`http://127.0.0.1:${(gateway.address() as AddressInfo).port}`)

  await http.get("/function/echo/first").expect(200)
  await upstream.scaleDownBehindGatewaysBack()
  const woken = await http.get("/function/echo/again").expect(200)
  expect(woken.body).toMatchObject({ method: "GET", path: "/function/echo/again" })
  expect(woken.headers["server-timing"]).toMatch(
    new RegExp(`^${UPSTREAM_SERVER_TIMING}, cold-start;dur=\\d+$`),
  )
  expect(upstream.serviceQuery.calls.setReplicas).toBe(2)
  // Refused again after its one re-send, the request gets the proxy's own answer.
  await upstream.crash()
  const refused = await http.get("/function/echo/crashed").expect(502)
  expect(refused.text).toMatch(/^bad gateway: connect ECONNREFUSED/)
})

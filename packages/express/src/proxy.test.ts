import { createHash, randomBytes } from "node:crypto"
import { createServer, request as httpRequest, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import {
  startHashingUpstream,
  startScalableUpstream,
  UPSTREAM_SERVER_TIMING,
} from "@scale-from-zero/test-kit/adapter-upstream"
import express from "express"
import { createProxyMiddleware } from "http-proxy-middleware"
import supertest from "supertest"
import { afterEach, expect, it } from "vitest"
import { type ExpressRequest, scaleFromZero } from "./index.js"

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** The simplest streaming proxy: the request piped up, the answer piped back, headers copied. */
function pipeTo(upstream: string) {
  return (request: ExpressRequest, response: ServerResponse) => {
    const forward = httpRequest(`${upstream}${request.originalUrl}`, {
      method: request.method,
      headers: request.headers,
    })
    forward.on("response", (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    request.pipe(forward)
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
  const app = express()
  app.use(middleware)
  app.use(pipeTo(upstream.url))
  const gateway = createServer(app)
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

async function listen(app: express.Express) {
  const gateway = createServer(app)
  await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve))
  closers.push(() => new Promise((resolve) => gateway.close(resolve)))
  return supertest(`http://127.0.0.1:${(gateway.address() as AddressInfo).port}`)
}

/** The README's setup: http-proxy-middleware, with rewake on a refused connection. */
async function rewakingGateway() {
  const upstream = await startScalableUpstream()
  closers.push(upstream.close)
  // Polled and trusted for a minute: only the refused connection can tell the service is gone.
  const gateway = scaleFromZero({ serviceQuery: upstream.serviceQuery, cacheExpiry: 60_000 })
  closers.push(async () => gateway.gate.close())
  const proxy = createProxyMiddleware<ExpressRequest, ServerResponse>({
    target: upstream.url,
    pathFilter: "/function/",
    on: {
      error: async (error, req, res) => {
        const response = res as ServerResponse
        if (await gateway.rewake(req, response, () => proxy(req, response))) return
        response
          .writeHead(502, { "content-type": "text/plain" })
          .end(`bad gateway: ${error.message}`)
      },
    },
  })
  const app = express()
  app.use(gateway)
  app.use(proxy)
  return { upstream, http: await listen(app) }
}

it("rewakes a request refused by a service scaled to zero behind its back, and re-sends it once (http-proxy-middleware)", async () => {
  const { upstream, http } = await rewakingGateway()
  const first = await http.get("/function/echo/first").expect(200)
  expect(first.headers["server-timing"]).toBe(UPSTREAM_SERVER_TIMING)
  await upstream.scaleDownBehindGatewaysBack()
  const refused = await http.get("/function/echo/again").expect(200)
  expect(refused.body).toMatchObject({ method: "GET", path: "/function/echo/again" })
  expect(refused.headers["server-timing"]).toMatch(
    new RegExp(`^${UPSTREAM_SERVER_TIMING}, cold-start;dur=\\d+$`),
  )
  // The scale-down behind the gateway's back, and the gateway's scale-up.
  expect(upstream.serviceQuery.calls.setReplicas).toBe(2)
})

it("re-sends a refused request only once: refused again, the proxy answers its own 502", async () => {
  const { upstream, http } = await rewakingGateway()
  await http.get("/function/echo/first").expect(200)
  await upstream.crash()
  const response = await http.get("/function/echo/again").expect(502)
  expect(response.text).toMatch(/^bad gateway: connect ECONNREFUSED/)
  expect(upstream.serviceQuery.calls.setReplicas).toBe(0)
})

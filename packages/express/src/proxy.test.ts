import { createHash, randomBytes } from "node:crypto"
import { createServer, request as httpRequest, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import {
  startHashingUpstream,
  UPSTREAM_SERVER_TIMING,
} from "@scale-from-zero/test-kit/adapter-upstream"
import express from "express"
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

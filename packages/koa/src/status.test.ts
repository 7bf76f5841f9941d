import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import Koa from "koa"
import { afterEach, expect, it } from "vitest"
import { type KoaContext, scaleFromZero, statusHandler } from "./index.js"

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
})

it("serves the status as JSON and a page, and wakes only what authorize allows", async () => {
  const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
  const middleware = scaleFromZero({ serviceQuery })
  const page = statusHandler(middleware.gate)
  const admin = statusHandler(middleware.gate, {
    authorize: (context: KoaContext) => context.req.headers["x-admin"] === "yes",
  })
  const app = new Koa()
  app.use((context, next) => {
    if (context.path === "/_status") return page(context)
    if (context.path === "/_admin") return admin(context)
    return next()
  })
  app.use(middleware)
  app.use((context) => {
    context.body = "ok"
  })
  server = createServer(app.callback())
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await fetch(`${url}/function/echo/`)
  const json = await fetch(`${url}/_status`, { headers: { accept: "application/json" } })
  expect(await json.json()).toMatchObject({
    actions: false,
    services: [{ name: "echo", state: "ready", availableReplicas: 1 }],
  })
  const html = await fetch(`${url}/_status`)
  expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8")
  expect(html.headers.get("content-security-policy")).toContain("default-src 'none'")
  expect(await html.text()).toContain('data-service="echo.openfaas-fn"')
  const sleep = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}?action=sleep&service=echo&namespace=openfaas-fn`, {
      method: "POST",
      headers: { accept: "application/json", ...headers },
    })
  expect((await sleep("/_status")).status).toBe(403)
  expect((await sleep("/_admin")).status).toBe(403)
  expect((await sleep("/_admin", { "x-admin": "yes" })).status).toBe(202)
  expect(middleware.gate.status()[0]?.state).toBe("cold")
  middleware.gate.close()
  serviceQuery.close()
})

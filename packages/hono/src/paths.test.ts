import { request as httpRequest } from "node:http"
import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import { type GateOptions, resolveOpenFaaSPath } from "@scale-from-zero/core"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import { Hono } from "hono"
import { afterEach, describe, expect, it } from "vitest"
import { scaleFromZero } from "./index.js"

/** Sends `path` exactly as written (no URL normalisation on the client's side). */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: "127.0.0.1", port, path, agent: false }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        body += chunk
      })
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on("error", reject)
    request.end()
  })
}

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

/**
 * A real Hono app on @hono/node-server, `echo` ready and `sleepy` at zero; the handler answers
 * with the path Hono routed on. Returns the port and what the gate decided for each request.
 */
async function startApp(policy: Partial<GateOptions>) {
  const serviceQuery = createMemoryServiceQuery({
    services: { echo: { replicas: 1 }, sleepy: { replicas: 0 } },
  })
  const verdicts: string[] = []
  const middleware = scaleFromZero({
    serviceQuery,
    ...policy,
    observers: [
      { request: (verdict, name, namespace) => verdicts.push(`${verdict} ${name}.${namespace}`) },
    ],
  } as GateOptions)
  const app = new Hono()
  app.use(middleware)
  app.all("*", (c) => c.text(`${c.req.path} ${new URL(c.req.url).search}`))
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const listening = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () =>
      resolve(listening),
    )
  })
  closers.push(async () => {
    middleware.close()
    serviceQuery.close()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as AddressInfo
  return { port, verdicts, serviceQuery }
}

// Each path, sent once `echo` is cached ready and its name recently resolved: the status, what
// the handler saw (Hono's decoded path, the query), and what the gate decided.
const CASES: [
  path: string,
  status: number,
  body: string | undefined,
  verdict: string | undefined,
][] = [
  ["/function/echo", 200, "/function/echo ", "pass echo.openfaas-fn"],
  ["/function/echo/", 200, "/function/echo/ ", "pass echo.openfaas-fn"],
  ["/function/echo?x=1&y=%20", 200, "/function/echo ?x=1&y=%20", "pass echo.openfaas-fn"],
  ["/function/echo/a%20b?q", 200, "/function/echo/a b ?q", "pass echo.openfaas-fn"],
  ["/function/echo.openfaas-fn/x", 200, "/function/echo.openfaas-fn/x ", "pass echo.openfaas-fn"],
  ["/async-function/echo/x", 200, "/async-function/echo/x ", "pass echo.openfaas-fn"],
  // The service's name as sent, not as Hono decodes it: "%65cho" is no valid name.
  ["/function/%65cho/x", 400, undefined, "400 %65cho.openfaas-fn"],
  // Begins like echo's path, but names another service.
  ["/function/echoes/x", 404, undefined, "404 echoes.openfaas-fn"],
  ["/function/echo.other/x", 404, undefined, "404 echo.other"],
  // Not a service's path: passed untouched, the gate records nothing.
  ["/static/function/echo", 200, "/static/function/echo ", undefined],
  ["/function/", 200, "/function/ ", undefined],
  ["/functions/echo", 200, "/functions/echo ", undefined],
]

describe("the paths the gate reads on Hono (@hono/node-server)", () => {
  // The default resolver takes the gate's warm path for a recently resolved service; one wrapped
  // in a function of the user's is admitted in full: both must decide alike.
  for (const [label, policy] of [
    ["the OpenFaaS resolver", {}],
    ["the same resolver, the user's", { resolve: (r) => resolveOpenFaaSPath(r) }],
  ] as [string, Partial<GateOptions>][]) {
    it(`reads the path and query as sent, with ${label}`, async () => {
      const { port, verdicts, serviceQuery } = await startApp(policy)
      expect((await get(port, "/function/echo/warm")).status).toBe(200)
      for (const [path, status, body, verdict] of CASES) {
        verdicts.length = 0
        const answer = await get(port, path)
        expect(answer.status, path).toBe(status)
        if (body !== undefined) expect(answer.body, path).toBe(body)
        expect(verdicts, path).toEqual(verdict === undefined ? [] : [verdict])
      }
      // Every pass above was warm: echo was read from the backend once, before; the two
      // services not found once each.
      expect(serviceQuery.calls.getReplicas).toBe(3)
    })
  }

  it("holds a request for a service at zero whose name begins like a warm one's", async () => {
    const { port, verdicts, serviceQuery } = await startApp({})
    serviceQuery.addService("echo2", "openfaas-fn", { replicas: 0 })
    expect((await get(port, "/function/echo/x")).status).toBe(200)
    const answer = await get(port, "/function/echo2/x?y")
    expect(answer).toEqual({ status: 200, body: "/function/echo2/x ?y" })
    expect(verdicts).toEqual(["held echo.openfaas-fn", "held echo2.openfaas-fn"])
    expect(serviceQuery.calls.setReplicas).toBe(1)
  })
})

import { once } from "node:events"
import { createServer, type IncomingMessage, request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import express from "express"
import { afterEach, describe, expect, it, vi } from "vitest"
import { proxyTo, upstreamAgent } from "./proxy.js"

const servers: Server[] = []
const agents: ReturnType<typeof upstreamAgent>[] = []

async function listen(server: Server): Promise<string> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Express with the proxy mounted under /function/x, as the example mounts it per service. */
function gatewayTo(upstream: string, onError = vi.fn()) {
  const agent = upstreamAgent()
  agents.push(agent)
  const app = express()
  app.use(
    "/function/x",
    proxyTo({
      agent,
      target: () => upstream,
      headers: { "x-gateway-instance": "A" },
      onError: (error, _req, res) => {
        onError(error)
        res.writeHead(502).end(`bad gateway: ${error.message}`)
      },
    }),
  )
  return listen(createServer(app))
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  await Promise.all(agents.splice(0).map((agent) => agent.destroy()))
})

describe("proxyTo", () => {
  it("forwards method, the path below the mount point, body and headers, and answers back", async () => {
    const upstream = await listen(
      createServer((req, res) => {
        let body = ""
        req.on("data", (chunk) => {
          body += chunk
        })
        req.on("end", () => {
          res.writeHead(201, { "x-upstream": "yes", connection: "close" })
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              body,
              instance: req.headers["x-gateway-instance"],
              forwardedFor: req.headers["x-forwarded-for"],
              forwardedProto: req.headers["x-forwarded-proto"],
              host: req.headers.host,
            }),
          )
        })
      }),
    )
    const gateway = await gatewayTo(upstream)
    const response = await fetch(`${gateway}/function/x/a?b=1`, { method: "PUT", body: "payload" })
    expect(response.status).toBe(201)
    expect(response.headers.get("x-upstream")).toBe("yes")
    expect(await response.json()).toEqual({
      method: "PUT",
      url: "/a?b=1",
      body: "payload",
      instance: "A",
      forwardedFor: "127.0.0.1",
      forwardedProto: "http",
      host: new URL(upstream).host,
    })
  })

  it("hands a refused connection to onError", async () => {
    const closed = await listen(createServer())
    const dead = servers.pop()!
    await new Promise((resolve) => dead.close(resolve))
    const onError = vi.fn()
    const gateway = await gatewayTo(closed, onError)
    const response = await fetch(`${gateway}/function/x`)
    expect(response.status).toBe(502)
    expect(onError).toHaveBeenCalledOnce()
  })

  it("drops the upstream request when the client leaves, before or during the answer", async () => {
    for (const answerFirst of [false, true]) {
      let upstreamClosed = false
      const upstream = await listen(
        createServer((req, res) => {
          req.socket.once("close", () => {
            upstreamClosed = true
          })
          if (answerFirst) res.writeHead(200).write("partial")
        }),
      )
      const arrived = once(servers.at(-1)!, "request")
      const gateway = await gatewayTo(upstream)
      const client = request(`${gateway}/function/x`)
      client.on("error", () => {})
      client.end()
      if (answerFirst) {
        const answer = (await once(client, "response")) as [IncomingMessage]
        await once(answer[0], "data")
      } else await arrived
      client.destroy()
      await vi.waitFor(() => expect(upstreamClosed).toBe(true))
    }
  })
})

import { once } from "node:events"
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http"
import type { AddressInfo } from "node:net"
import Koa from "koa"
import { afterEach, describe, expect, it, vi } from "vitest"
import { forwardTo } from "./proxy.js"

const servers: Server[] = []

async function listen(server: Server): Promise<string> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function gatewayTo(upstream: string, timeoutMs = 2_000): Promise<string> {
  const app = new Koa()
  app.use(forwardTo(upstream, timeoutMs))
  return listen(createServer(app.callback()))
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

describe("forwardTo", () => {
  it("forwards method, path, query, body and headers, and streams the answer back", async () => {
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
              custom: req.headers["x-custom"],
              forwardedFor: req.headers["x-forwarded-for"],
              host: req.headers.host,
            }),
          )
        })
      }),
    )
    const gateway = await gatewayTo(`${upstream}/prefix/`)
    const response = await fetch(`${gateway}/function/echo/a?b=1`, {
      method: "PUT",
      body: "payload",
      headers: { "x-custom": "kept" },
    })
    expect(response.status).toBe(201)
    expect(response.headers.get("x-upstream")).toBe("yes")
    expect(await response.json()).toEqual({
      method: "PUT",
      url: "/prefix/function/echo/a?b=1",
      body: "payload",
      custom: "kept",
      forwardedFor: "127.0.0.1",
      host: new URL(upstream).host,
    })
  })

  it("streams both ways: the upstream reads the body and the client the answer as they are sent", async () => {
    let upstreamResponse: ServerResponse | undefined
    const firstChunk = new Promise<string>((resolve) => {
      servers.push(
        createServer((req, res) => {
          upstreamResponse = res
          req.once("data", (chunk: Buffer) => resolve(chunk.toString()))
          res.writeHead(200, { "content-type": "text/plain" })
          res.write("head-")
        }),
      )
    })
    const upstream = await listen(servers.pop()!)
    const gateway = await gatewayTo(upstream)
    const client = request(`${gateway}/function/x`, { method: "POST" })
    client.write("first-")
    // The upstream has the first chunk while the client's request is still open.
    expect(await firstChunk).toBe("first-")
    const answer = await new Promise<IncomingMessage>((resolve) => client.once("response", resolve))
    const [head] = (await once(answer, "data")) as [Buffer]
    // The client has the upstream's first chunk while the upstream's answer is still open.
    expect(head.toString()).toBe("head-")
    client.end("rest")
    upstreamResponse?.end("tail")
    let rest = ""
    for await (const chunk of answer) rest += chunk
    expect(rest).toBe("tail")
  })

  it("answers 502 when the upstream cannot be reached", async () => {
    const closed = await listen(createServer())
    const dead = servers.pop()!
    await new Promise((resolve) => dead.close(resolve))
    const gateway = await gatewayTo(closed)
    const response = await fetch(`${gateway}/function/x`)
    expect(response.status).toBe(502)
    expect(await response.text()).toContain("cannot reach the upstream")
  })

  it("answers 504 when the upstream sends no answer in time", async () => {
    const upstream = await listen(createServer(() => {}))
    const gateway = await gatewayTo(upstream, 150)
    const start = performance.now()
    const response = await fetch(`${gateway}/function/x`)
    expect(response.status).toBe(504)
    expect(await response.text()).toBe("upstream gave no answer within 150ms")
    expect(performance.now() - start).toBeLessThan(1_500)
  })

  it("drops the upstream request when the client leaves before the answer", async () => {
    let upstreamClosed = false
    const arrived = vi.fn()
    const upstream = await listen(
      createServer((req) => {
        arrived()
        req.socket.once("close", () => {
          upstreamClosed = true
        })
      }),
    )
    const gateway = await gatewayTo(upstream, 10_000)
    const client = request(`${gateway}/function/x`)
    client.on("error", () => {})
    client.end()
    await vi.waitFor(() => expect(arrived).toHaveBeenCalled())
    client.destroy()
    await vi.waitFor(() => expect(upstreamClosed).toBe(true))
  })

  it("drops the upstream request when the client leaves in the middle of the answer", async () => {
    let upstreamClosed = false
    const upstream = await listen(
      createServer((req, res) => {
        req.socket.once("close", () => {
          upstreamClosed = true
        })
        res.writeHead(200)
        res.write("partial")
      }),
    )
    const gateway = await gatewayTo(upstream, 10_000)
    const client = request(`${gateway}/function/x`)
    client.on("error", () => {})
    client.end()
    const answer = await new Promise<IncomingMessage>((resolve) => client.once("response", resolve))
    await once(answer, "data")
    client.destroy()
    await vi.waitFor(() => expect(upstreamClosed).toBe(true))
  })

  it("carries a burst over at most 128 kept upstream connections, reused afterwards", async () => {
    const sockets = new Set<unknown>()
    const upstream = await listen(
      createServer((req, res) => {
        sockets.add(req.socket)
        res.end("ok")
      }),
    )
    const gateway = await gatewayTo(upstream)
    const burst = () =>
      Promise.all(
        Array.from({ length: 300 }, () =>
          fetch(`${gateway}/function/x`).then((response) => response.text()),
        ),
      )
    expect(new Set(await burst())).toEqual(new Set(["ok"]))
    expect(new Set(await burst())).toEqual(new Set(["ok"]))
    // 600 requests, 300 at a time, over the same few connections.
    expect(sockets.size).toBeLessThanOrEqual(128)
  })

  it("ends the client's answer when the upstream breaks off its body", async () => {
    const upstream = await listen(
      createServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.write("partial")
        setTimeout(() => res.destroy(), 20)
      }),
    )
    const gateway = await gatewayTo(upstream)
    const response = await fetch(`${gateway}/function/x`)
    expect(response.status).toBe(200)
    await expect(response.text()).rejects.toThrow()
  })
})

import type { ScaleFromZeroOptions } from "@scale-from-zero/core"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"
import { Hono } from "hono"
import type { UpgradeWebSocket } from "hono/ws"
import { afterEach, describe, expect, it } from "vitest"
import { countWebSockets, type ScaleFromZeroMiddleware, scaleFromZero } from "./index.js"

// WebSockets through the middleware on the runtime's own server, with its own Hono helper
// (hono/deno's upgradeWebSocket on Deno.serve, hono/bun's on Bun.serve) and its own WebSocket
// client. Only Deno and Bun run this file (vitest.config.ts): CI runs the suite under each.
declare const Deno:
  | {
      serve(
        options: { hostname: string; port: number; onListen(address: { port: number }): void },
        handler: (request: Request) => Response | Promise<Response>,
      ): { shutdown(): Promise<void> }
    }
  | undefined
declare const Bun:
  | {
      serve(options: {
        hostname: string
        port: number
        idleTimeout: number
        fetch: (request: Request, server: unknown) => Response | Promise<Response>
        websocket: unknown
      }): { port: number; stop(force: boolean): Promise<void> }
    }
  | undefined

interface Served {
  readonly name: string
  readonly port: number
  stop(): Promise<void>
}

async function serve(build: (upgradeWebSocket: UpgradeWebSocket) => Hono): Promise<Served> {
  if (typeof Deno !== "undefined") {
    const { upgradeWebSocket } = await import("hono/deno")
    const app = build(upgradeWebSocket)
    let server: { shutdown(): Promise<void> } | undefined
    const port = await new Promise<number>((resolve) => {
      server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: (address) => resolve(address.port) },
        (request) => app.fetch(request),
      )
    })
    return { name: "Deno.serve", port, stop: () => server!.shutdown() }
  }
  if (typeof Bun === "undefined") throw new Error("neither Deno nor Bun runs this test")
  const { upgradeWebSocket, websocket } = await import("hono/bun")
  const app = build(upgradeWebSocket as UpgradeWebSocket)
  // idleTimeout 0: held upgrades may wait longer than Bun's default 10 s.
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch: (request, bunServer) => app.fetch(request, bunServer),
    websocket,
  })
  return { name: "Bun.serve", port: server.port, stop: () => server.stop(true) }
}

const runtime = typeof Deno !== "undefined" ? "Deno.serve" : "Bun.serve"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(what: string, check: () => boolean, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await sleep(5)
  }
}

function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true })
    socket.addEventListener("error", () => reject(new Error("the WebSocket failed")), {
      once: true,
    })
  })
}

function echo(socket: WebSocket, message: string): Promise<string> {
  return new Promise((resolve) => {
    socket.addEventListener("message", (event) => resolve(String(event.data)), { once: true })
    socket.send(message)
  })
}

function closed(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve()
    else socket.addEventListener("close", () => resolve(), { once: true })
  })
}

describe(`Hono on ${runtime}: WebSockets counted with countWebSockets`, () => {
  let served: Served | undefined
  let middleware: ScaleFromZeroMiddleware | undefined
  let serviceQuery: MemoryServiceQuery | undefined
  const scaleDowns: string[] = []
  afterEach(async () => {
    middleware?.close()
    await served?.stop()
    serviceQuery?.close()
    served = undefined
    middleware = undefined
    serviceQuery = undefined
    scaleDowns.length = 0
  })

  const start = async (
    echoService: { replicas?: number; startupDelayMs?: number },
    options: Omit<ScaleFromZeroOptions, "serviceQuery"> & { closeAfterMs?: number },
  ) => {
    const { closeAfterMs, ...gateOptions } = options
    serviceQuery = createMemoryServiceQuery({ services: { echo: echoService } })
    const gate = scaleFromZero({
      functionPollInterval: 20,
      ...gateOptions,
      serviceQuery,
      onEvent: (event) => {
        if (event.type === "scale-down") scaleDowns.push(event.service)
      },
    })
    middleware = gate
    served = await serve((upgradeWebSocket) => {
      const app = new Hono()
      app.use(gate)
      app.get(
        "/function/echo/ws",
        countWebSockets(upgradeWebSocket)(() => ({
          onOpen(_event, ws) {
            if (closeAfterMs !== undefined) setTimeout(() => ws.close(1000, "done"), closeAfterMs)
          },
          onMessage(event, ws) {
            ws.send(String(event.data))
          },
        })),
      )
      return app
    })
    return { gate, backend: serviceQuery, url: `ws://127.0.0.1:${served.port}/function/echo/ws` }
  }

  it("holds an upgrade for a cold service, connects it once ready, echoes, and keeps the service up while open; one scale-down after it closes", async () => {
    const { gate, backend, url } = await start(
      { startupDelayMs: 300 },
      { scaleToZero: { allServices: true, idleAfterMs: 300, checkIntervalMs: 20 } },
    )
    const started = Date.now()
    const socket = new WebSocket(url)
    const open = opened(socket)
    await until("the upgrade held", () => gate.gate.scaler.totalWaiting === 1)
    await open
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(backend.calls.setReplicas).toBe(1)
    expect(await echo(socket, "hello")).toBe("hello")
    // Open and quiet for well past the idle time: still up.
    await sleep(900)
    expect(scaleDowns).toEqual([])
    expect(backend.status("echo", "openfaas-fn")?.replicas).toBe(1)
    expect(await echo(socket, "still there")).toBe("still there")
    socket.close()
    await closed(socket)
    await until("the idle scale-down", () => scaleDowns.length === 1)
    await sleep(400)
    expect(scaleDowns).toEqual(["echo"])
  })

  it("counts the socket until the server side closes it", async () => {
    const { url } = await start(
      { replicas: 1 },
      {
        scaleToZero: { allServices: true, idleAfterMs: 200, checkIntervalMs: 20 },
        closeAfterMs: 600,
      },
    )
    const socket = new WebSocket(url)
    await opened(socket)
    await sleep(450)
    expect(scaleDowns).toEqual([])
    await closed(socket)
    await until("the idle scale-down", () => scaleDowns.length === 1)
    await sleep(300)
    expect(scaleDowns).toEqual(["echo"])
  })

  it("with connectionIdleMs, a silent socket stops counting while one carrying frames does not", async () => {
    const { url } = await start(
      { replicas: 1 },
      {
        scaleToZero: {
          allServices: true,
          idleAfterMs: 200,
          checkIntervalMs: 20,
          connectionIdleMs: 300,
        },
      },
    )
    const socket = new WebSocket(url)
    await opened(socket)
    // A frame each 100 ms for 900 ms: never silent for connectionIdleMs.
    for (let i = 0; i < 9; i++) {
      expect(await echo(socket, `ping ${i}`)).toBe(`ping ${i}`)
      await sleep(100)
    }
    expect(scaleDowns).toEqual([])
    // Then silent: no longer activity, though still open.
    await until("the idle scale-down", () => scaleDowns.length === 1)
    expect(socket.readyState).toBe(WebSocket.OPEN)
    socket.close()
    await closed(socket)
    await sleep(300)
    expect(scaleDowns).toEqual(["echo"])
  })

  it("passes a plain request on the same route to the next handler, counting it as a request", async () => {
    const { url } = await start(
      { replicas: 1 },
      { scaleToZero: { allServices: true, idleAfterMs: 200, checkIntervalMs: 20 } },
    )
    const response = await fetch(url.replace("ws:", "http:"))
    expect(response.status).toBe(404)
    await response.body?.cancel()
    await until("the idle scale-down", () => scaleDowns.length === 1)
  })
})

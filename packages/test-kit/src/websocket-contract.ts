// What every Node adapter shows with real WebSocket clients (the `ws` package): an upgrade held
// while its service wakes, then connected and echoing; the open socket counted in flight; a
// client that leaves while held forgotten; refusals answered as HTTP.

import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { Gate, ScaleFromZeroOptions } from "@scale-from-zero/core"
import {
  createMemoryServiceQuery,
  type MemoryServiceDefinition,
  type MemoryServiceQuery,
} from "@scale-from-zero/core/testing"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocket, WebSocketServer } from "ws"

/** The gated WebSocket path every harness serves; its far end echoes each message. */
export const WEBSOCKET_PATH = "/function/echo/ws"

export interface RunningWebSocketApp {
  /** Base URL, `ws://127.0.0.1:PORT`. */
  readonly url: string
  readonly gate: Gate
}

export interface WebSocketHarness {
  /** Serves the adapter's app with the gate in front of its upgrades; closed by `close()`. */
  start(options: ScaleFromZeroOptions): Promise<RunningWebSocketApp & { close(): Promise<void> }>
}

/** A `ws` echo server (the upstream a proxy forwards to), on 127.0.0.1. */
export async function startWebSocketEchoServer(): Promise<{
  url: string
  close(): Promise<void>
}> {
  const server = createServer()
  const wss = new WebSocketServer({ server })
  wss.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const client of wss.clients) client.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Opens a WebSocket: the open socket, or the HTTP status it was refused with. */
function connect(url: string): {
  socket: WebSocket
  opened: Promise<{ open: true } | { open: false; status: number; body: string }>
} {
  const socket = new WebSocket(url)
  const opened = new Promise<{ open: true } | { open: false; status: number; body: string }>(
    (resolve, reject) => {
      socket.once("open", () => resolve({ open: true }))
      socket.once("unexpected-response", (_request, response) => {
        let body = ""
        response.on("data", (chunk: Buffer) => {
          body += chunk
        })
        response.on("end", () => resolve({ open: false, status: response.statusCode ?? 0, body }))
      })
      socket.once("error", reject)
    },
  )
  return { socket, opened }
}

function echo(socket: WebSocket, message: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once("message", (data) => resolve(String(data)))
    socket.send(message)
  })
}

function closed(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve()
    else socket.once("close", () => resolve())
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(what: string, check: () => boolean, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await sleep(5)
  }
}

const timers = () =>
  process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length

export function runWebSocketContract(adapterName: string, harness: WebSocketHarness): void {
  describe(`${adapterName}: WebSockets through scale-from-zero`, () => {
    let serviceQuery: MemoryServiceQuery | undefined
    let stop: (() => Promise<void>) | undefined
    const scaleDowns: string[] = []
    afterEach(async () => {
      await stop?.()
      serviceQuery?.close()
      stop = undefined
      serviceQuery = undefined
      scaleDowns.length = 0
    })

    const start = async (
      echoService: MemoryServiceDefinition,
      gate: Omit<ScaleFromZeroOptions, "serviceQuery"> = {},
    ) => {
      serviceQuery = createMemoryServiceQuery({ services: { echo: echoService } })
      const app = await harness.start({
        functionPollInterval: 20,
        ...gate,
        serviceQuery,
        onEvent: (event) => {
          if (event.type === "scale-down") scaleDowns.push(event.service)
        },
      })
      stop = app.close
      return { app, backend: serviceQuery }
    }

    it("holds an upgrade for a cold service, connects it once ready, echoes, and keeps the service up while open; one scale-down after it closes", async () => {
      const { app, backend } = await start(
        { startupDelayMs: 300 },
        { scaleToZero: { allServices: true, idleAfterMs: 300, checkIntervalMs: 20 } },
      )
      const started = Date.now()
      const { socket, opened } = connect(`${app.url}${WEBSOCKET_PATH}`)
      await until("the upgrade held", () => app.gate.scaler.totalWaiting === 1)
      expect(await opened).toEqual({ open: true })
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

    it("connects at once to a ready service", async () => {
      const { app } = await start({ replicas: 1 })
      const { socket, opened } = connect(`${app.url}${WEBSOCKET_PATH}`)
      expect(await opened).toEqual({ open: true })
      expect(await echo(socket, "warm")).toBe("warm")
      socket.close()
      await closed(socket)
    })

    it("counts the socket until the server side closes it too", async () => {
      const { app } = await start(
        { replicas: 1 },
        { scaleToZero: { allServices: true, idleAfterMs: 200, checkIntervalMs: 20 } },
      )
      const { socket, opened } = connect(`${app.url}${WEBSOCKET_PATH}`)
      expect(await opened).toEqual({ open: true })
      await sleep(500)
      expect(scaleDowns).toEqual([])
      socket.terminate() // no close frame: the server side sees the socket end
      await until("the idle scale-down", () => scaleDowns.length === 1)
    })

    it("forgets a client that leaves while held, leaving no wait, watch, listener or timer", async () => {
      const { app, backend } = await start({ startupDelayMs: 10_000 })
      const timersBefore = timers()
      const { socket, opened } = connect(`${app.url}${WEBSOCKET_PATH}`)
      opened.catch(() => {})
      await until("the upgrade held", () => app.gate.scaler.totalWaiting === 1)
      socket.terminate()
      await until("no wait left", () => app.gate.scaler.totalWaiting === 0)
      await until("no watch left", () => backend.activeWatches === 0)
      await until("no timer left", () => timers() <= timersBefore, 1000)
      expect(timers()).toBeLessThanOrEqual(timersBefore)
    })

    it("answers refusals as HTTP: 404 for an unknown service, 504 with Retry-After on timeout", async () => {
      const { app } = await start({ startupDelayMs: 10_000 }, { timeout: 200, retryAfter: 4 })
      const unknown = connect(`${app.url}/function/missing/ws`)
      expect(await unknown.opened).toMatchObject({ open: false, status: 404 })
      const slow = connect(`${app.url}${WEBSOCKET_PATH}`)
      expect(await slow.opened).toMatchObject({ open: false, status: 504 })
    })

    it("refuses a monitor's upgrade to a cold service as asleep, starting nothing", async () => {
      const { app, backend } = await start({}, { wake: () => false })
      const { opened } = connect(`${app.url}${WEBSOCKET_PATH}`)
      const refused = await opened
      expect(refused).toMatchObject({ open: false, status: 503 })
      expect(backend.calls.setReplicas).toBe(0)
    })
  })
}

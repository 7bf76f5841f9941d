import type { AddressInfo } from "node:net"
import { serve, upgradeWebSocket, type WebSocketServerLike } from "@hono/node-server"
import { runWebSocketContract } from "@scale-from-zero/test-kit/websocket-contract"
import { Hono } from "hono"
import { WebSocketServer } from "ws"
import { countWebSockets, scaleFromZero } from "./index.js"

// Hono on Node with @hono/node-server 2.x's own upgradeWebSocket: the upgrade goes through the
// middleware like any request, and counts until the upgraded socket closes; the same with the
// helper wrapped in countWebSockets (needed on Deno and Bun, harmless here), which counts it.
for (const [name, upgrade] of [
  ["upgradeWebSocket", upgradeWebSocket],
  ["countWebSockets(upgradeWebSocket)", countWebSockets(upgradeWebSocket)],
] as const) {
  runWebSocketContract(`Hono on Node (@hono/node-server ${name})`, {
    async start(options) {
      const middleware = scaleFromZero(options)
      const app = new Hono()
      app.use(middleware)
      app.get(
        "/function/:name/ws",
        upgrade(() => ({
          onMessage(event, ws) {
            ws.send(event.data as string)
          },
        })),
      )
      const wss = new WebSocketServer({ noServer: true })
      const server = serve({
        fetch: app.fetch,
        hostname: "127.0.0.1",
        port: 0,
        // node-server's own type for a ws server is narrower than ws's typings; it is one.
        websocket: { server: wss as unknown as WebSocketServerLike },
      })
      await new Promise((resolve) => server.once("listening", resolve))
      return {
        url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
        gate: middleware.gate,
        async close() {
          middleware.gate.close()
          for (const client of wss.clients) client.terminate()
          if ("closeAllConnections" in server) server.closeAllConnections()
          await new Promise((resolve) => server.close(resolve))
        },
      }
    },
  })
}

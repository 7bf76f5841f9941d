import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { runWebSocketContract } from "@scale-from-zero/test-kit/websocket-contract"
import Koa from "koa"
import { WebSocketServer } from "ws"
import { scaleFromZero } from "./index.js"

// Koa serving WebSockets itself with a `ws` server: its `handleUpgrade` behind
// `middleware.upgrade`, as the README shows.
runWebSocketContract("Koa + ws", {
  async start(options) {
    const middleware = scaleFromZero(options)
    const app = new Koa()
    app.use(middleware)
    const wss = new WebSocketServer({ noServer: true })
    wss.on("connection", (socket) => {
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
    })
    const server = createServer(app.callback())
    server.on(
      "upgrade",
      middleware.upgrade((request, socket, head) =>
        wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request)),
      ),
    )
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return {
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
      gate: middleware.gate,
      async close() {
        middleware.gate.close()
        for (const client of wss.clients) client.terminate()
        wss.close()
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
      },
    }
  },
})

import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import {
  runWebSocketContract,
  startWebSocketEchoServer,
} from "@scale-from-zero/test-kit/websocket-contract"
import express from "express"
import { createProxyMiddleware } from "http-proxy-middleware"
import { scaleFromZero, type UpgradeHandler } from "./index.js"

// Express in front of a WebSocket service, through http-proxy-middleware: its `upgrade`
// behind `middleware.upgrade`, as the README shows. (Not `ws: true`, which would subscribe
// the proxy to the server's upgrades itself, past the gate.)
runWebSocketContract("Express + http-proxy-middleware", {
  async start(options) {
    const upstream = await startWebSocketEchoServer()
    const middleware = scaleFromZero(options)
    const proxy = createProxyMiddleware({ target: upstream.url })
    const app = express()
    app.use(middleware)
    app.use(proxy)
    const server = createServer(app)
    server.on("upgrade", middleware.upgrade(proxy.upgrade as UpgradeHandler))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return {
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
      gate: middleware.gate,
      async close() {
        middleware.gate.close()
        server.closeAllConnections()
        await upstream.close()
        await new Promise((resolve) => server.close(resolve))
      },
    }
  },
})

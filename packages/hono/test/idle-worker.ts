// A Worker with idle scale-down as the Hono README documents it: the middleware in front of a
// proxy, and a scheduled handler (a Cron Trigger) running the gate's idle check. The backend is
// core's memory ServiceQuery; its counts are at GET /__stats.
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "@scale-from-zero/core"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import { Hono } from "hono"
import { upgradeWebSocket } from "hono/cloudflare-workers"
import { countWebSockets, scaleFromZero } from "../src/index.js"

interface Env {
  UPSTREAM: string
}

const labels = { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: "300ms" }
const serviceQuery = createMemoryServiceQuery({
  services: {
    idle: { replicas: 1, labels },
    busy: { replicas: 1, labels },
    socket: { startupDelayMs: 300, labels },
  },
})
const scaling = scaleFromZero({ serviceQuery, scaleToZero: {} })

const app = new Hono<{ Bindings: Env }>()
app.get("/__stats", (c) =>
  c.json({
    setReplicas: serviceQuery.calls.setReplicas,
    idle: serviceQuery.status("idle", "openfaas-fn"),
    busy: serviceQuery.status("busy", "openfaas-fn"),
    socket: serviceQuery.status("socket", "openfaas-fn"),
  }),
)
app.use(scaling)
// A WebSocket the Worker answers itself (an echo), counted until it closes.
app.get(
  "/function/socket/ws",
  countWebSockets(upgradeWebSocket)(() => ({
    onMessage(event, ws) {
      if (typeof event.data === "string") ws.send(event.data)
    },
    // workerd before the web_socket_auto_reply_to_close flag leaves the closing handshake to us.
    onClose(_event, ws) {
      ws.close()
    },
  })),
)
// The function's answer comes from an upstream the test controls (and may keep open).
app.all("/function/*", (c) => fetch(`${c.env.UPSTREAM}${new URL(c.req.url).pathname}`))

export default {
  fetch: app.fetch,
  scheduled(_controller: unknown, _env: Env, context: { waitUntil(p: Promise<unknown>): void }) {
    context.waitUntil(scaling.gate.checkIdle())
  },
}

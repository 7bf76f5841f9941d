// A gateway in front of labelled containers: `npm start`, then curl http://127.0.0.1:8080/function/NAME/
import { serve } from "@hono/node-server"
import { parseDuration } from "@scale-from-zero/core"
import { createDockerGateway } from "./gateway.js"

const port = Number(process.env.PORT ?? 8080)
const socketPath = process.env.DOCKER_SOCKET ?? "/var/run/docker.sock"
const idleAfter = process.env.IDLE_AFTER ?? "5m"
const idleAfterMs = parseDuration(idleAfter)
if (idleAfterMs === undefined)
  throw new Error(`IDLE_AFTER must be a duration like 30s or 5m, got ${idleAfter}`)

const gateway = createDockerGateway({
  docker: { socketPath },
  scaleToZero: { idleAfterMs },
  timeout: 60_000,
  onEvent: (event) =>
    console.log(
      JSON.stringify({
        time: new Date().toISOString(),
        ...event,
        ...(event.type === "error" && { error: event.error.message }),
      }),
    ),
})

const server = serve({ fetch: gateway.app.fetch, port, hostname: "127.0.0.1" }, (info) =>
  console.log(`docker gateway on http://127.0.0.1:${info.port}, engine unix://${socketPath}`),
)

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await gateway.close()
    server.close(() => process.exit(0))
  })
}

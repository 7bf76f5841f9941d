// bun run src/bun.ts
import { createGateway, readSettings } from "./app.ts"

const settings = readSettings((name) => Bun.env[name])
const { app, gate } = createGateway(settings)
const server = Bun.serve({
  hostname: Bun.env.HOST ?? "127.0.0.1",
  port: Number(Bun.env.PORT ?? 8000),
  // Held requests wait up to the gate's timeout (100 s by default); Bun's default is 10 s.
  idleTimeout: 0,
  fetch: app.fetch,
})
console.log(`gateway on http://${server.hostname}:${server.port} → ${settings.providerUrl}`)

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    gate.close()
    server.stop()
  })
}

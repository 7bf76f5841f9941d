// deno run --allow-net --allow-env --unstable-no-legacy-abort src/deno.ts
import { createGateway, readSettings } from "./app.ts"

const settings = readSettings((name) => Deno.env.get(name))
const { app, gate } = createGateway(settings)
const server = Deno.serve(
  {
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 8000),
    onListen: ({ hostname, port }) =>
      console.log(`gateway on http://${hostname}:${port} → ${settings.providerUrl}`),
  },
  app.fetch,
)

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    gate.close()
    server.shutdown()
  })
}

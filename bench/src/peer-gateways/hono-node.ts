// examples/hono-deno-bun's gateway (src/app.ts: Hono, scaleFromZero, Hono's proxy helper) served
// on Node by @hono/node-server, for the peer harness beside the Go gateway and the Koa example.
// Configured from the same environment as examples/koa-openfaas-gateway (PORT,
// functions_provider_url, basic_auth…); the example's app takes no namespace or timeout, so it
// keeps its defaults (openfaas-fn, the gate's timeout).
import { serve } from "@hono/node-server"
import { createGateway } from "../../../examples/hono-deno-bun/src/app.js"
import { readGatewayConfig } from "../../../examples/koa-openfaas-gateway/src/config.js"

const config = readGatewayConfig(process.env)
// The app appends `/function/…` to the URL as given: `http://provider:8080/` would double the slash.
const providerUrl = config.providerUrl.replace(/\/+$/, "")
const { app, gate } = createGateway({
  providerUrl,
  ...(config.basicAuth && { basicAuth: config.basicAuth }),
})
const server = serve({ fetch: app.fetch, port: config.port }, ({ port }) => {
  console.log(`hono gateway (node) on :${port} → ${providerUrl}`)
})
const shutdown = () => {
  gate.close()
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 5_000).unref()
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)

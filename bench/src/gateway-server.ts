// One gateway of the whole-gateway benchmark: `gateway-server.ts bare|gateway WORKERS PROVIDER_URL`.
// "gateway" is examples/koa-openfaas-gateway as it ships (scaleFromZero + its proxy);
// "bare" is the same Koa app with the same proxy and no scaleFromZero. With WORKERS > 1 the
// primary forks that many workers sharing the port (node:cluster) and prints their pids.
import cluster from "node:cluster"
import type { AddressInfo } from "node:net"
import Koa from "koa"
import { createGateway } from "../../examples/koa-openfaas-gateway/src/app.js"
import { forwardTo } from "../../examples/koa-openfaas-gateway/src/proxy.js"

const [variant = "gateway", workersArg = "1", providerUrl = ""] = process.argv.slice(2)
const workers = Number(workersArg)
const port = Number(process.env.GATEWAY_PORT ?? 0)

// A profiled run (--cpu-prof) writes its profile on a normal exit only.
process.once("SIGTERM", () => process.exit(0))

if (workers > 1 && cluster.isPrimary) {
  const pids: number[] = []
  for (let i = 0; i < workers; i++) pids.push(cluster.fork().process.pid ?? 0)
  let listening = 0
  cluster.on("listening", (_worker, address) => {
    if (++listening === workers) {
      process.stdout.write(`${JSON.stringify({ port: address.port, pids })}\n`)
    }
  })
} else {
  const config = {
    providerUrl,
    basicAuth: undefined,
    functionNamespace: "openfaas-fn",
    port,
    upstreamTimeoutMs: 60_000,
  }
  const app =
    variant === "bare"
      ? new Koa().use(forwardTo(providerUrl, config.upstreamTimeoutMs))
      : createGateway(config).app
  app.silent = true // autocannon hangs up mid-write at the end of each run
  const server = app.listen(port, "127.0.0.1", () => {
    if (workers > 1) return
    const { port: bound } = server.address() as AddressInfo
    process.stdout.write(`${JSON.stringify({ port: bound, pids: [process.pid] })}\n`)
  })
}

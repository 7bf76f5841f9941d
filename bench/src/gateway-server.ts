// One gateway of the whole-gateway benchmark: `gateway-server.ts bare|gateway WORKERS PROVIDER_URL`.
// "gateway" is examples/koa-openfaas-gateway as it ships (scaleFromZero + its proxy);
// "bare" is the same Koa app with the same proxy and no scaleFromZero. Both are served by the
// example's own `serve`: with WORKERS > 1, its node:cluster workers (GATEWAY_WORKERS). Prints
// `{"port":…,"pids":[…]}` once listening.
import Koa from "koa"
import { createGateway } from "../../examples/koa-openfaas-gateway/src/app.js"
import { forwardTo } from "../../examples/koa-openfaas-gateway/src/proxy.js"
import { serve } from "../../examples/koa-openfaas-gateway/src/serve.js"

const [variant = "gateway", workersArg = "1", providerUrl = ""] = process.argv.slice(2)
const config = {
  providerUrl,
  basicAuth: undefined,
  functionNamespace: "openfaas-fn",
  port: Number(process.env.GATEWAY_PORT ?? 0),
  upstreamTimeoutMs: 60_000,
  workers: Number(workersArg),
}

serve(
  config,
  (shared) => {
    if (variant === "bare") {
      const app = new Koa().use(forwardTo(providerUrl, config.upstreamTimeoutMs))
      app.silent = true // autocannon hangs up mid-write at the end of each run
      return { app, close: () => {} }
    }
    const { app, gate } = createGateway(config, undefined, shared)
    app.silent = true
    return { app, close: () => gate.close() }
  },
  (listening) => process.stdout.write(`${JSON.stringify(listening)}\n`),
)

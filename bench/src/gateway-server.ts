// One gateway of the whole-gateway benchmark: `gateway-server.ts bare|bare-hold|gateway WORKERS
// PROVIDER_URL`. "gateway" is examples/koa-openfaas-gateway as it ships (scaleFromZero + its
// proxy); "bare" is the same Koa app with the same proxy and no scaleFromZero; "bare-hold" adds
// the least a hold can be (one promise per function, the provider polled every 100 ms): the
// release burst's baseline. All are served by the
// example's own `serve`: with WORKERS > 1, its node:cluster workers (GATEWAY_WORKERS). Prints
// `{"port":…,"pids":[…]}` once listening.
import Koa, { type Middleware } from "koa"
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
    if (variant === "bare" || variant === "bare-hold") {
      const app = new Koa()
      if (variant === "bare-hold") app.use(plainHold(providerUrl))
      app.use(forwardTo(providerUrl, config.upstreamTimeoutMs))
      app.silent = true // autocannon hangs up mid-write at the end of each run
      return { app, close: () => {} }
    }
    const { app, gate } = createGateway(config, undefined, shared)
    app.silent = true
    return { app, close: () => gate.close() }
  },
  (listening) => process.stdout.write(`${JSON.stringify(listening)}\n`),
)

/**
 * The least a gateway can do to hold requests for a function at zero: the first request asks the
 * provider to scale it to 1 and polls its status every 100 ms; every request awaits that one
 * promise. No limits, timeouts, events or cache expiry: a baseline, not a gateway.
 */
function plainHold(providerUrl: string): Middleware {
  const readiness = new Map<string, Promise<void>>()
  const base = providerUrl.replace(/\/$/, "")
  const isReady = async (name: string) => {
    const status = await fetch(
      `${base}/system/function/${name}?namespace=${config.functionNamespace}`,
    )
    const body = (await status.json()) as { availableReplicas?: number }
    return (body.availableReplicas ?? 0) > 0
  }
  const wake = async (name: string) => {
    if (await isReady(name)) return
    await fetch(`${base}/system/scale-function/${name}?namespace=${config.functionNamespace}`, {
      method: "POST",
      body: JSON.stringify({ serviceName: name, namespace: config.functionNamespace, replicas: 1 }),
    })
    while (!(await isReady(name))) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return async (ctx, next) => {
    const name = /^\/function\/([^/]+)/.exec(ctx.path)?.[1]
    if (name !== undefined) {
      let ready = readiness.get(name)
      if (ready === undefined) {
        ready = wake(name)
        readiness.set(name, ready)
      }
      await ready
    }
    await next()
  }
}

import type { ScalingEventListener } from "@scale-from-zero/core"
import type { ClusterShared } from "@scale-from-zero/core/node"
import { scaleFromZero } from "@scale-from-zero/koa"
import { createOpenFaaSServiceQuery } from "@scale-from-zero/openfaas"
import Koa from "koa"
import type { GatewayConfig } from "./config.js"
import { forwardTo } from "./proxy.js"

const FUNCTION_PATH = /^\/(?:async-)?function\//

/**
 * The gateway: requests for `/function/NAME/…` (and `/async-function/…`) are held while NAME
 * scales up from zero through the OpenFaaS provider API, then forwarded to the provider.
 * In a node:cluster worker, `shared` makes the workers act as one gateway.
 */
export function createGateway(
  config: GatewayConfig,
  onEvent?: ScalingEventListener,
  shared?: ClusterShared,
) {
  const provider = createOpenFaaSServiceQuery({
    url: config.providerUrl,
    ...(config.basicAuth && { basicAuth: config.basicAuth }),
  })
  const scaling = scaleFromZero({
    serviceQuery: shared ? shared.shareReads(provider) : provider,
    ...(shared && { sharedWakes: shared.sharedWakes }),
    defaultNamespace: config.functionNamespace,
    timeout: config.upstreamTimeoutMs,
    ...(onEvent && { onEvent }),
  })
  // A request refused because its function was scaled to zero behind the gateway's back
  // (OpenFaaS's idler, an operator) is held again while the function wakes.
  const forward = forwardTo(config.providerUrl, config.upstreamTimeoutMs, scaling.rewake)

  const app = new Koa()
  app.use(async (ctx, next) => {
    if (ctx.path === "/healthz") {
      ctx.body = "OK"
      return
    }
    await next()
  })
  app.use(scaling)
  app.use(async (ctx, next) => {
    if (FUNCTION_PATH.test(ctx.path)) await forward(ctx, next)
    else await next()
  })
  return { app, gate: scaling.gate }
}

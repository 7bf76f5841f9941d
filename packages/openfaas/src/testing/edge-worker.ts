/**
 * A Cloudflare Worker for the workerd test: a minimal gateway with the OpenFaaS provider alone
 * (no framework). `/function/NAME/…` is held until NAME is ready, then forwarded to the
 * provider; the answer says how the scale went in `x-cold-start` / `x-scale-error`.
 */
import { createFunctionScaler, type FunctionScaler, getServiceName } from "@scale-from-zero/core"
import { createOpenFaaSServiceQuery } from "../index.js"

interface Env {
  PROVIDER_URL: string
  PROVIDER_USER: string
  PROVIDER_PASSWORD: string
}

let scaler: FunctionScaler | undefined

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    scaler ??= createFunctionScaler({
      serviceQuery: createOpenFaaSServiceQuery({
        url: env.PROVIDER_URL,
        basicAuth: { user: env.PROVIDER_USER, password: env.PROVIDER_PASSWORD },
        timeout: 2_000,
      }),
      functionPollInterval: 25,
      timeout: 5_000,
    })
    const url = new URL(request.url)
    const name = getServiceName(url.pathname)
    if (name === "") return new Response("not a function path", { status: 404 })
    const result = await scaler.scale(name, "openfaas-fn", { signal: request.signal })
    if (!result.available) {
      return new Response(`${result.error?.name}: ${result.error?.message}`, {
        status: result.found ? 502 : 404,
        headers: { "x-scale-error": result.error?.name ?? "" },
      })
    }
    const upstream = await fetch(`${env.PROVIDER_URL}${url.pathname}${url.search}`)
    return new Response(upstream.body, {
      status: upstream.status,
      headers: { "x-cold-start": String(result.coldStart) },
    })
  },
}

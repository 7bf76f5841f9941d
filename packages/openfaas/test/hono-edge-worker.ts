/**
 * A Cloudflare Worker for the workerd test: a Hono gateway whose `/function/NAME/…` requests
 * are held by the scale-from-zero middleware until NAME is ready, then forwarded to the
 * provider. Bindings exist only per request in Workers, so the app is built on the first one.
 */
import { scaleFromZero } from "@scale-from-zero/hono"
import { type ExecutionContext, Hono } from "hono"
import { createOpenFaaSServiceQuery } from "../src/index.js"

interface Bindings {
  PROVIDER_URL: string
  PROVIDER_USER: string
  PROVIDER_PASSWORD: string
}

function createApp(env: Bindings): Hono {
  const app = new Hono()
  app.use(
    scaleFromZero({
      serviceQuery: createOpenFaaSServiceQuery({
        url: env.PROVIDER_URL,
        basicAuth: { user: env.PROVIDER_USER, password: env.PROVIDER_PASSWORD },
        timeoutMs: 2_000,
      }),
      functionPollInterval: 25,
      timeout: 5_000,
    }),
  )
  app.all("/function/*", (c) => {
    const { pathname, search } = new URL(c.req.url)
    return fetch(new Request(`${env.PROVIDER_URL}${pathname}${search}`, c.req.raw))
  })
  return app
}

let app: Hono | undefined

export default {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext): Response | Promise<Response> {
    app ??= createApp(env)
    // The execution context lets a wake the client left run to its end (waitUntil).
    return app.fetch(request, env, ctx)
  },
}

// The Worker the workerd tests run, several times over: a Hono gateway whose every isolate
// shares the coordinating Durable Object (MODE=shared) or asks the provider itself
// (MODE=direct, the one-isolate baseline); /activity/… exposes the shared activity to the
// contract suite, and /__restart restarts a service's object.
import type { SharedActivity } from "@scale-from-zero/core"
import { scaleFromZero } from "@scale-from-zero/hono"
import { createOpenFaaSServiceQuery } from "@scale-from-zero/openfaas"
import { type ExecutionContext, Hono } from "hono"
import {
  createCoordinator,
  createDurableObjectServiceQuery,
  createDurableObjectSharedActivity,
  type DurableObjectNamespaceLike,
  type DurableObjectStateLike,
} from "../src/index.js"

interface Env {
  MODE: "shared" | "direct"
  PROVIDER_URL: string
  COORDINATOR: DurableObjectNamespaceLike
}

const openfaas = (env: Env) =>
  createOpenFaaSServiceQuery({ url: env.PROVIDER_URL, timeoutMs: 2_000 })
const POLL_MS = 25

const Coordinator = createCoordinator(openfaas, { statusCacheMs: POLL_MS })

/** The coordinator, plus a way for the test to restart it (as Cloudflare may at any time). */
export class TestCoordinator extends Coordinator {
  readonly #state: DurableObjectStateLike & { abort(reason?: string): void }
  constructor(state: DurableObjectStateLike & { abort(reason?: string): void }, env: Env) {
    super(state, env)
    this.#state = state
  }
  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname === "/__restart") this.#state.abort("restarted by the test")
    return super.fetch(request)
  }
}

function createGateway(env: Env) {
  const shared = env.MODE === "shared"
  const scaling = scaleFromZero({
    serviceQuery: shared
      ? createDurableObjectServiceQuery({ namespace: env.COORDINATOR })
      : openfaas(env),
    functionPollInterval: POLL_MS,
    cacheExpiry: POLL_MS,
    timeout: 10_000,
    scaleToZero: shared
      ? { shared: createDurableObjectSharedActivity({ namespace: env.COORDINATOR }) }
      : {},
  })
  const app = new Hono()
  app.use(scaling)
  app.all("/function/*", (c) => {
    const { pathname, search } = new URL(c.req.url)
    return fetch(new Request(`${env.PROVIDER_URL}${pathname}${search}`, c.req.raw))
  })
  return { app, gate: scaling.gate }
}

let gateway: ReturnType<typeof createGateway> | undefined
const activities = new Map<string, SharedActivity>()

/** The contract's calls: `POST /activity/{handle}` with `{ prefix, method, args }`. */
async function activityCall(env: Env, handle: string, request: Request): Promise<Response> {
  const { prefix, method, args } = (await request.json()) as {
    prefix: string
    method: keyof SharedActivity
    args: [string, string, number]
  }
  const key = JSON.stringify([handle, prefix])
  let activity = activities.get(key)
  if (activity === undefined) {
    activity = createDurableObjectSharedActivity({
      namespace: env.COORDINATOR,
      objectNamePrefix: prefix,
    })
    activities.set(key, activity)
  }
  const result = await (activity[method] as (...a: typeof args) => Promise<unknown>)(...args)
  return Response.json({ result: result ?? null })
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname.startsWith("/activity/")) {
      return activityCall(env, url.pathname.slice("/activity/".length), request)
    }
    if (url.pathname === "/__restart") {
      const name = url.searchParams.get("name") ?? ""
      const namespace = url.searchParams.get("namespace") ?? "openfaas-fn"
      const stub = env.COORDINATOR.get(
        env.COORDINATOR.idFromName(JSON.stringify([namespace, name])) as never,
      )
      const answer = await stub.fetch("https://coordinator/__restart").then(
        (response) => `answered ${response.status}`,
        (error: unknown) => String(error),
      )
      return new Response(answer)
    }
    gateway ??= createGateway(env)
    return gateway.app.fetch(request, env, ctx)
  },
  async scheduled(_controller: unknown, env: Env, ctx: ExecutionContext): Promise<void> {
    gateway ??= createGateway(env)
    ctx.waitUntil(gateway.gate.checkIdle())
  },
}

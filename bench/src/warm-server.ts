// One app of the warm-overhead benchmark: `warm-server.ts FRAMEWORK bare|middleware|counting
// [watched|polled]`. Both variants run the same app; "bare" puts an empty middleware
// (pass-through.ts: it only calls next, as scaleFromZero does on a warm request) where
// scaleFromZero goes. The service's cached status is kept right by the backend's pushes
// (watched, the default: it never expires) or read from a backend without push (polled: the
// warm check reads the clock; an hour's cacheExpiry, so every request finds it fresh).
import { Session } from "node:inspector"
import type { AddressInfo } from "node:net"
import type { ScaleFromZeroOptions } from "@scale-from-zero/core"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import { type HeapSample, startHeapSampling } from "./heap-profile.js"
import { expressPassThrough, honoPassThrough, koaPassThrough } from "./pass-through.js"

// The CPU and profiler probes are answered before the middleware: a request it never saw while
// warming up (a path of no service) would deoptimise the very code being measured.
const [framework, variant, entry = "watched"] = process.argv.slice(2)
if (entry !== "watched" && entry !== "polled") throw new Error(`unknown entry ${entry}`)
// "counting": scaleFromZero with idle scale-down on, so each request is counted in flight.
const withMiddleware = variant === "middleware" || variant === "counting"
const options: ScaleFromZeroOptions = {
  serviceQuery: createMemoryServiceQuery({
    services: { echo: { replicas: 1 } },
    watch: entry === "watched",
  }),
  ...(entry === "polled" && { cacheExpiry: 3_600_000 }),
  ...(variant === "counting" && { scaleToZero: { allServices: true, idleAfterMs: 3_600_000 } }),
}
const BODY = "hello from echo\n"
/** The server's own CPU time, read between load runs (a path for no service: it passes untouched). */
const CPU_PATH = "/__cpu"
const cpuMicros = () => {
  const { user, system } = process.cpuUsage()
  return String(user + system)
}

/**
 * The server's own profilers, started and stopped between load runs (paths of no service):
 * `/__probe/profile/start?intervalMicros=N` and `/__probe/profile/stop` (the CPU profile, JSON),
 * `/__probe/heap/start?intervalBytes=N` and `/__probe/heap/stop` (a HeapSample, JSON).
 */
const PROBE_PATH = "/__probe/"
let profiler: Session | undefined
let stopHeap: (() => HeapSample) | undefined
const probe = (url: string): string => {
  const { pathname, searchParams } = new URL(url, "http://localhost")
  const post = (method: string, params?: object) => {
    let result: unknown
    profiler?.post(method, params, (error, value) => {
      if (error) throw error
      result = value
    })
    return result
  }
  switch (pathname.slice(PROBE_PATH.length)) {
    case "profile/start":
      profiler = new Session()
      profiler.connect()
      post("Profiler.enable")
      post("Profiler.setSamplingInterval", { interval: Number(searchParams.get("intervalMicros")) })
      post("Profiler.start")
      return "started"
    case "profile/stop": {
      const { profile } = post("Profiler.stop") as { profile: unknown }
      profiler?.disconnect()
      return JSON.stringify(profile)
    }
    case "heap/start":
      stopHeap = startHeapSampling(Number(searchParams.get("intervalBytes")))
      return "started"
    case "heap/stop":
      return JSON.stringify(stopHeap?.())
    default:
      throw new Error(`unknown probe ${pathname}`)
  }
}

async function start(): Promise<number> {
  switch (framework) {
    case "express": {
      const { default: express } = await import("express")
      const { scaleFromZero } = await import("@scale-from-zero/express")
      const app = express()
      app.get(CPU_PATH, (_req, res) => {
        res.end(cpuMicros())
      })
      app.get(`${PROBE_PATH}*probe`, (req, res) => {
        res.end(probe(req.originalUrl))
      })
      app.use(withMiddleware ? scaleFromZero(options) : expressPassThrough)
      app.get("/function/echo/hello", (_req, res) => {
        res.setHeader("content-type", "text/plain")
        res.end(BODY)
      })
      return listen((port, ready) => app.listen(port, "127.0.0.1", ready))
    }
    case "koa": {
      const { default: Koa } = await import("koa")
      const { scaleFromZero } = await import("@scale-from-zero/koa")
      const app = new Koa()
      app.silent = true // autocannon hangs up mid-write at the end of each run: not worth a log line
      app.use((ctx, next) => {
        if (ctx.path === CPU_PATH) ctx.body = cpuMicros()
        else if (ctx.path.startsWith(PROBE_PATH)) ctx.body = probe(ctx.originalUrl)
        else return next()
      })
      app.use(withMiddleware ? scaleFromZero(options) : koaPassThrough)
      app.use((ctx) => {
        if (ctx.path === "/function/echo/hello") ctx.body = BODY
      })
      return listen((port, ready) => app.listen(port, "127.0.0.1", ready))
    }
    case "hono": {
      const { Hono } = await import("hono")
      const { serve } = await import("@hono/node-server")
      const { scaleFromZero } = await import("@scale-from-zero/hono")
      const app = new Hono()
      app.get(CPU_PATH, (c) => c.text(cpuMicros()))
      app.get(`${PROBE_PATH}*`, (c) => c.text(probe(c.req.url)))
      app.use(withMiddleware ? scaleFromZero(options) : honoPassThrough)
      app.get("/function/echo/hello", (c) => c.text(BODY))
      return new Promise((resolve) => {
        serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => resolve(info.port))
      })
    }
    default:
      throw new Error(`unknown framework ${framework}`)
  }
}

function listen(
  open: (port: number, ready: () => void) => { address(): AddressInfo | string | null },
): Promise<number> {
  return new Promise((resolve) => {
    const server = open(0, () => resolve((server.address() as AddressInfo).port))
  })
}

process.once("SIGTERM", () => process.exit(0))

const port = await start()
process.stdout.write(`${JSON.stringify({ port })}\n`)

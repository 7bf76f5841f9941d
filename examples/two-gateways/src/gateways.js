// Two gateway instances, A and B, in front of the same service. Each has its own gate (its own
// view of which requests it is serving) and its own Redis connection; they share nothing but
// the backend and what they record in Redis. A service busy through A alone is never stopped
// by B's idle check, and once idle on both, exactly one of them stops it.
//
// Here both run in one process, because the backend (services run as child processes) lives in
// the process; in production each instance is its own process or pod, with the same Redis.
import { Agent } from "node:http"
import { fileURLToPath } from "node:url"
import {
  DEFAULT_NAMESPACE,
  getNamespace,
  getServiceName,
  ZERO_DURATION_LABEL,
  ZERO_SCALE_LABEL,
} from "@scale-from-zero/core"
import { scaleFromZero } from "@scale-from-zero/express"
import { createProcessServiceQuery } from "@scale-from-zero/process"
import { createRedisSharedActivity } from "@scale-from-zero/redis"
import express from "express"
import { createProxyMiddleware } from "http-proxy-middleware"

export const INSTANCE_IDS = ["A", "B"]

/**
 * @param {object} options
 * @param {string} options.redisUrl the Redis both instances share
 * @param {string} [options.keyPrefix] Redis key prefix (default "two-gateways:")
 * @param {number} [options.idleAfterMs] idle time, on every instance, before hello is stopped (default 10 s)
 * @param {(line: string) => void} [options.log] where to tell what happens (default console.log)
 */
export function createGateways(options) {
  const idleAfterMs = options.idleAfterMs ?? 10_000
  const keyPrefix = options.keyPrefix ?? "two-gateways:"
  const log = options.log ?? console.log
  const namespace = DEFAULT_NAMESPACE

  const services = createProcessServiceQuery({
    namespace,
    services: {
      hello: {
        command: process.execPath,
        args: [fileURLToPath(new URL("../services/hello.mjs", import.meta.url))],
        readiness: { httpPath: "/healthz" },
        labels: { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: `${idleAfterMs}ms` },
      },
    },
    onEvent: (event) => {
      if (event.type === "spawn") log(`hello: started pid ${event.pid}`)
      if (event.type === "stop") log(`hello: stopping pid ${event.pid}`)
    },
  })
  const agent = new Agent({ keepAlive: true })

  const createInstance = (id) => {
    const shared = createRedisSharedActivity({ url: options.redisUrl, keyPrefix })
    const scaling = scaleFromZero({
      serviceQuery: services,
      defaultNamespace: namespace,
      scaleToZero: { idleAfterMs, shared },
      onEvent: (event) => log(`gateway ${id}: ${describeScalingEvent(event)}`),
    })
    const { gate } = scaling

    /** Finds a ready replica; if the other instance stopped it a moment ago, wakes it again. */
    const toReplica = async (req, res, next) => {
      const [name, ns] = getNamespace(namespace, getServiceName(req.originalUrl))
      let replica = services.endpoint(name, ns)
      if (replica === undefined) {
        gate.scaler.cache.delete(name, ns)
        const controller = new AbortController()
        const onClose = () => controller.abort()
        res.once("close", onClose)
        const result = await gate.scaler.scale(name, ns, { signal: controller.signal })
        res.off("close", onClose)
        replica = result.available ? services.endpoint(name, ns) : undefined
        if (replica === undefined) {
          if (!res.headersSent && !controller.signal.aborted) {
            res.status(502).type("text/plain").send(`${name}.${ns}: no ready replica\n`)
          }
          return
        }
      }
      req.replica = replica
      next()
    }

    const proxy = createProxyMiddleware({
      router: (req) => req.replica,
      agent,
      xfwd: true,
      headers: { "x-gateway-instance": id },
      on: {
        error: (error, _req, res) => {
          if (typeof res.writeHead !== "function" || res.headersSent) return res.destroy()
          res
            .writeHead(502, { "content-type": "text/plain" })
            .end(`bad gateway: ${error.message}\n`)
        },
      },
    })

    const app = express()
    app.disable("x-powered-by")
    app.get("/", (_req, res) => {
      const status = services.status("hello")
      res.json({
        instance: id,
        hello: { replicas: status.replicas, pids: status.processes.map((p) => p.pid) },
      })
    })
    app.use(scaling)
    app.use("/function/:service", toReplica, proxy)
    return { id, app, gate, shared }
  }

  const instances = INSTANCE_IDS.map(createInstance)
  return {
    services,
    instances,
    /** Ends every held request, closes the Redis connections and stops the service processes. */
    async close() {
      for (const instance of instances) instance.gate.close()
      await Promise.all(instances.map((instance) => instance.shared.close()))
      await services.close()
      agent.destroy()
    },
  }
}

const seconds = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`)

/** One line for what a gate does. */
export function describeScalingEvent(event) {
  const name = event.service
  switch (event.type) {
    case "scale-up":
      return `${name}: no replica ready — request held, scale-up requested`
    case "ready":
      return `${name}: ready after ${seconds(event.durationMs)}`
    case "scale-down":
      return `${name}: idle on every instance for ${seconds(event.idleMs)} → scaled to 0`
    case "error":
      return `${name}: error: ${event.error.message}`
    default:
      return `${name}: ${event.type}`
  }
}

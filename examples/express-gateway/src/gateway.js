// An Express gateway in front of local services that run only while they are used:
// a request for /function/NAME/... starts NAME if it is not running, is held until NAME
// answers its health check, then is proxied to it; NAME is stopped again once idle.
import { fileURLToPath } from "node:url"
import {
  DEPENDS_ON_LABEL,
  getNamespace,
  getServiceName,
  ZERO_DURATION_LABEL,
  ZERO_SCALE_LABEL,
} from "@scale-from-zero/core"
import { scaleFromZero } from "@scale-from-zero/express"
import { createProcessServiceQuery } from "@scale-from-zero/process"
import express from "express"
import { proxyTo, upstreamAgent } from "./proxy.js"

export { upstreamAgent }

/** The sample services shipped in ../services, each a plain Node HTTP server on $PORT. */
export const SAMPLE_SERVICES = ["hello", "echo"]

/**
 * A two-service group: `notes` needs `store` running first (its `scale-from-zero.depends-on`
 * label). A request for notes starts store, then notes once store is ready, and is held for
 * both; store stays up while notes is, then idles by its own rules. Both run hello.mjs here.
 */
export const GROUP = { notes: "store" }

/**
 * @param {object} [options]
 * @param {number} [options.idleAfterMs] idle time before a service is stopped (default 30 s)
 * @param {number} [options.timeoutMs] how long a request may wait for its service (default 30 s)
 * @param {(line: string) => void} [options.log] where to tell what happens (default console.log)
 */
export function createGateway(options = {}) {
  const idleAfterMs = options.idleAfterMs ?? 30_000
  const log = options.log ?? console.log

  const sample = (script, labels = {}) => ({
    command: process.execPath,
    args: [fileURLToPath(new URL(`../services/${script}.mjs`, import.meta.url))],
    readiness: { httpPath: "/healthz" },
    // Opt in to idle scale-down, as an OpenFaaS function would.
    labels: { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: `${idleAfterMs}ms`, ...labels },
  })
  const services = createProcessServiceQuery({
    services: {
      ...Object.fromEntries(SAMPLE_SERVICES.map((name) => [name, sample(name)])),
      ...Object.fromEntries(
        Object.entries(GROUP).flatMap(([service, needs]) => [
          [service, sample("hello", { [DEPENDS_ON_LABEL]: needs })],
          [needs, sample("hello")],
        ]),
      ),
    },
    onEvent: (event) => {
      const line = describeProcessEvent(event)
      if (line !== undefined) log(line)
    },
  })
  const agent = upstreamAgent()
  const { app, gate } = createGatewayApp({
    services,
    agent,
    scaling: {
      timeout: options.timeoutMs ?? 30_000,
      scaleToZero: { idleAfterMs },
      onEvent: (event) => log(describeScalingEvent(event)),
    },
    log,
  })

  return {
    app,
    services,
    gate,
    /** Ends every held request and stops every service process. */
    async close() {
      gate.close()
      await services.close()
      agent.destroy()
    },
  }
}

/**
 * One gateway instance in front of process-backed services: `/` lists them, `/function/NAME/...`
 * is held until NAME is ready, then proxied to a ready replica. Several instances may share one
 * backend (see examples/two-gateways).
 * @param {object} options
 * @param {import("@scale-from-zero/process").ProcessServiceQuery} options.services
 * @param {import("undici").Dispatcher} options.agent keep-alive connections to the replicas (`upstreamAgent()`)
 * @param {Omit<import("@scale-from-zero/core").ScaleFromZeroOptions, "serviceQuery">} options.scaling
 * @param {(line: string) => void} options.log
 * @param {Record<string, string>} [options.proxyHeaders] headers added to proxied requests
 */
export function createGatewayApp({ services, agent, scaling: scalingOptions, log, proxyHeaders }) {
  const namespace = services.namespace
  const scaling = scaleFromZero({
    serviceQuery: services,
    defaultNamespace: namespace,
    ...scalingOptions,
  })
  const { gate } = scaling

  /** Finds a ready replica for the request, waiting for one if the last just went away. */
  const toReplica = async (req, res, next) => {
    const [name, ns] = getNamespace(namespace, getServiceName(req.originalUrl))
    const replica = services.endpoint(name, ns)
    if (replica !== undefined) {
      req.replica = replica
      return next()
    }
    // The gate let the request through on a status read moments ago, but that replica has
    // since gone (it crashed, or was stopped): hold it again like a cold start, then retry once.
    if (await scaling.rewake(req, res, () => toReplica(req, res, next))) return
    if (!res.headersSent)
      res.status(502).type("text/plain").send(`${name}.${ns}: no ready replica\n`)
  }

  // Mounted under /function/NAME, so the replica sees the rest of the path: /function/hello/x?y=1 → /x?y=1.
  // The body is not read here: it streams through to the replica, and the answer streams back.
  const proxy = proxyTo({
    agent,
    target: (req) => req.replica,
    ...(proxyHeaders && { headers: proxyHeaders }),
    onError: (error, req, res) => {
      log(`${getServiceName(req.originalUrl)}: proxying failed: ${error.message}`)
      if (res.headersSent) return res.destroy()
      res.writeHead(502, { "content-type": "text/plain" }).end(`bad gateway: ${error.message}\n`)
    },
  })

  const app = express()
  app.disable("x-powered-by")
  app.get("/", (_req, res) => {
    res.json(
      services.services.map((name) => {
        const status = services.status(name)
        return {
          name,
          replicas: status.replicas,
          availableReplicas: status.availableReplicas,
          pids: status.processes.map((p) => p.pid),
          crashes: status.crashes,
        }
      }),
    )
  })
  app.use(scaling)
  app.use("/function/:service", toReplica, proxy)
  return { app, gate }
}

const seconds = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`)

/** One line for what the gate does, or undefined for nothing worth a line. */
export function describeScalingEvent(event) {
  const name = event.service
  switch (event.type) {
    case "scale-up":
      return `${name}: no replica ready — request held, scale-up to ${event.replicas} requested`
    case "ready":
      return `${name}: ready after ${seconds(event.durationMs)}, releasing ${event.waiting} held request(s)`
    case "scale-down":
      return `${name}: idle for ${seconds(event.idleMs)} → scaled to 0`
    case "timeout":
      return `${name}: not ready within ${seconds(event.timeoutMs)} — answered 504`
    case "shed":
      return `${name}: too many held requests (limit ${event.limit}) — answered 503`
    case "error":
      return `${name}: ${event.error.message}`
    default:
      return `${name}: ${event.type}`
  }
}

/** One line for what happens to a service process, or undefined for nothing worth a line. */
export function describeProcessEvent(event) {
  const name = event.service
  switch (event.type) {
    case "spawn":
      return `${name}: started pid ${event.pid} on port ${event.port}`
    case "ready":
      return `${name}: pid ${event.pid} answers its health check after ${seconds(event.startupMs)}`
    case "unready":
      return `${name}: pid ${event.pid} fails its health check — taken out of rotation`
    case "startup-timeout":
      return `${name}: pid ${event.pid} not ready within ${seconds(event.timeoutMs)} — stopping it`
    case "stop":
      return `${name}: stopping pid ${event.pid} (SIGTERM)`
    case "kill":
      return `${name}: pid ${event.pid} still running after ${seconds(event.gracePeriodMs)} — SIGKILL`
    case "exit":
      return event.crashed
        ? `${name}: pid ${event.pid} crashed (${event.signal ?? `exit code ${event.code}`}) — it will be replaced`
        : `${name}: pid ${event.pid} stopped`
    case "backoff":
      return event.failures > 1
        ? `${name}: ${event.failures} failures in a row — next start in ${seconds(event.delayMs)}`
        : undefined
    case "error":
      return `${name}: ${event.error.message}`
    default:
      return undefined
  }
}

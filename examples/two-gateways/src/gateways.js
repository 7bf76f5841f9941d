// Two gateway instances, A and B, in front of the same service. Each has its own gate (its own
// view of which requests it is serving) and its own Redis connection; they share nothing but
// the backend and what they record in Redis. A service busy through A alone is never stopped
// by B's idle check, and once idle on both, exactly one of them stops it.
//
// Here both run in one process, because the backend (services run as child processes) lives in
// the process; in production each instance is its own process or pod, with the same Redis.
import { fileURLToPath } from "node:url"
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "@scale-from-zero/core"
import {
  createGatewayApp,
  describeProcessEvent,
  upstreamAgent,
} from "@scale-from-zero/example-express-gateway"
import { createProcessServiceQuery } from "@scale-from-zero/process"
import { createRedisSharedActivity } from "@scale-from-zero/redis"

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

  const services = createProcessServiceQuery({
    services: {
      hello: {
        command: process.execPath,
        args: [fileURLToPath(new URL("../services/hello.mjs", import.meta.url))],
        readiness: { httpPath: "/healthz" },
        labels: { [ZERO_SCALE_LABEL]: "true", [ZERO_DURATION_LABEL]: `${idleAfterMs}ms` },
      },
    },
    onEvent: (event) => {
      const line = describeProcessEvent(event)
      if (line !== undefined) log(line)
    },
  })
  const agent = upstreamAgent()

  // Each instance: its own gate and its own Redis connection, the same backend and Redis.
  const instances = INSTANCE_IDS.map((id) => {
    const shared = createRedisSharedActivity({ url: options.redisUrl, keyPrefix })
    const { app, gate } = createGatewayApp({
      services,
      agent,
      scaling: {
        scaleToZero: { idleAfterMs, shared },
        onEvent: (event) => log(`gateway ${id}: ${describeScalingEvent(event)}`),
      },
      log: (line) => log(`gateway ${id}: ${line}`),
      proxyHeaders: { "x-gateway-instance": id },
    })
    return { id, app, gate, shared }
  })
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

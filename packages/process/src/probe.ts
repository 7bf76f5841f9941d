import { request } from "node:http"
import { connect } from "node:net"
import { type Replica, type Runtime, replicaEvent } from "./runtime.js"

/**
 * One readiness check against a replica: an HTTP GET of `httpPath` answered with a 2xx,
 * or, without a path, an accepted TCP connection. Resolves false on failure, on
 * `timeoutMs` and on abort; never rejects, and leaves no socket behind.
 */
export function probe(
  host: string,
  port: number,
  httpPath: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    let release = () => {}
    const finish = (ok: boolean) => {
      clearTimeout(timer)
      signal.removeEventListener("abort", onAbort)
      release()
      resolve(ok)
    }
    const onAbort = () => finish(false)
    const timer = setTimeout(onAbort, timeoutMs)
    signal.addEventListener("abort", onAbort, { once: true })

    if (httpPath === undefined) {
      const socket = connect({ host, port })
      release = () => socket.destroy()
      socket.once("connect", () => finish(true))
      socket.once("error", () => finish(false))
      return
    }
    // No agent: the probe's socket closes with its answer instead of idling in a pool.
    const req = request({
      host,
      port,
      path: httpPath,
      method: "GET",
      agent: false,
      headers: { connection: "close" },
    })
    release = () => req.destroy()
    req.once("response", (res) => {
      const status = res.statusCode ?? 0
      res.resume()
      finish(status >= 200 && status < 300)
    })
    req.once("error", () => finish(false))
    req.end()
  })
}

/** Checks `replica` after `delayMs`, then keeps checking until its probes are aborted. */
export function scheduleProbe(runtime: Runtime, replica: Replica, delayMs: number): void {
  replica.probeTimer = setTimeout(() => void probeOnce(runtime, replica), delayMs)
  // A probe alone must not keep the gateway alive: the child process does that.
  replica.probeTimer.unref()
}

/** One check, and what it changes: ready, unready after `failureThreshold` misses, or nothing. */
async function probeOnce(runtime: Runtime, replica: Replica): Promise<void> {
  const { service } = replica
  const { definition } = service
  const { signal } = replica.probes
  const ok = await probe(
    runtime.host,
    replica.port,
    definition.httpPath,
    definition.probeTimeoutMs,
    signal,
  )
  if (signal.aborted) return
  const now = Date.now()
  if (ok) {
    replica.failedProbes = 0
    if (replica.state !== "ready") {
      const first = replica.readyAt === undefined
      replica.state = "ready"
      replica.readyAt ??= now
      clearTimeout(replica.startupTimer)
      replica.startupTimer = undefined
      if (first) {
        const startupMs = now - replica.startedAt
        runtime.emit({ type: "ready", ...replicaEvent(runtime, replica), startupMs })
      }
      runtime.changed(service)
    } else if (now - replica.readyAt! >= runtime.restart.resetAfterMs) {
      service.failures = 0
    }
  } else if (replica.state === "ready" && ++replica.failedProbes >= definition.failureThreshold) {
    // It keeps running: a later passing check makes it ready again.
    replica.state = "unready"
    runtime.emit({ type: "unready", ...replicaEvent(runtime, replica) })
    runtime.changed(service)
  }
  const ready = replica.state === "ready"
  scheduleProbe(
    runtime,
    replica,
    ready ? definition.readyProbeIntervalMs : definition.probeIntervalMs,
  )
}

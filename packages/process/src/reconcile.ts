import { asError } from "@scale-from-zero/core/provider"
import { startReplica, stopReplica } from "./replica.js"
import { type Replica, type Runtime, retired, type Service, startFailed } from "./runtime.js"

const running = (service: Service) => service.replicas.filter((r) => r.state !== "stopping")

/** Replicas least worth keeping first: not ready, then the newest. */
const stopOrder = (a: Replica, b: Replica) =>
  Number(a.state === "ready") - Number(b.state === "ready") || b.startedAt - a.startedAt

/**
 * Brings the service's processes to its desired count; one pass at a time per service, and a
 * call during a pass asks for one more pass after it (the count may have moved meanwhile).
 */
export function reconcile(runtime: Runtime, service: Service): Promise<void> {
  if (service.reconciling !== undefined) {
    service.dirty = true
    return service.reconciling
  }
  service.reconciling = (async () => {
    try {
      do {
        service.dirty = false
        await reconcileOnce(runtime, service)
      } while (service.dirty && !retired(runtime, service))
    } catch (error) {
      startFailed(runtime, service, asError(error))
    } finally {
      service.reconciling = undefined
    }
  })()
  return service.reconciling
}

async function reconcileOnce(runtime: Runtime, service: Service): Promise<void> {
  const current = running(service)
  if (current.length > service.desired) {
    for (const replica of current.sort(stopOrder).slice(0, current.length - service.desired)) {
      stopReplica(runtime, replica)
    }
  }
  if (current.length >= service.desired) {
    clearTimeout(service.restartTimer)
    service.restartTimer = undefined
    return
  }
  const wanted = () => !retired(runtime, service) && running(service).length < service.desired
  while (wanted()) {
    const wait = service.backoffUntil - Date.now()
    if (wait > 0) {
      if (service.restartTimer === undefined) {
        service.restartTimer = setTimeout(() => {
          service.restartTimer = undefined
          void reconcile(runtime, service)
        }, wait)
      }
      return
    }
    const { ports } = service.definition
    const port = await runtime.ports.take(ports)
    if (port === undefined) {
      if (ports !== undefined && runtime.ports.holdsAnyOf(ports)) {
        // A port of ours comes free when a stopping replica is gone: start then.
        service.waitingForPort = true
        return
      }
      const range = ports === undefined ? "" : ` in ${ports.from}-${ports.to}`
      startFailed(runtime, service, new Error(`no free port for ${service.name}${range}`))
      continue
    }
    if (!wanted()) {
      runtime.ports.release(port)
      return
    }
    await startReplica(runtime, service, port)
  }
}

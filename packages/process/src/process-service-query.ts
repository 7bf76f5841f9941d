import {
  BackendError,
  type ChangeSink,
  checkServiceName,
  defineServiceQuery,
  ServiceNotFoundError,
} from "@scale-from-zero/core/provider"
import { checkCapacity, newService } from "./definition.js"
import type {
  ProcessServiceDefinition,
  ProcessServiceQuery,
  ProcessServiceQueryOptions,
} from "./options.js"
import { createPortPool } from "./ports.js"
import { signalGroup } from "./process-group.js"
import { reconcile } from "./reconcile.js"
import { stopReplica } from "./replica.js"
import type { Runtime, Service } from "./runtime.js"
import { resolveSettings } from "./settings.js"
import {
  registerForShutdown,
  type ShutdownParticipant,
  unregisterFromShutdown,
} from "./shutdown.js"
import { readyUrls, toResponse, toStatus } from "./status.js"

/**
 * Runs each service as local child processes: `setReplicas` starts or stops processes,
 * `availableReplicas` counts those whose readiness probe passes, and `watch` pushes
 * every change. Crashed replicas are replaced, with an exponential back-off; no child
 * outlives the gateway (exit, uncaught error, SIGINT, SIGTERM).
 */
export function createProcessServiceQuery(
  options: ProcessServiceQueryOptions = {},
): ProcessServiceQuery {
  const { namespace, host, restart, defaults, onEvent, onWatchError } = resolveSettings(options)
  const services = new Map<string, Service>()
  /** The kit's sink for this namespace, while any service in it is watched. */
  let sink: ChangeSink | undefined
  let closing = false

  const runtime: Runtime = {
    namespace,
    host,
    restart,
    // A port of ours coming free may be the one a waiting service needs.
    ports: createPortPool(host, () => {
      for (const service of services.values()) {
        if (!service.waitingForPort) continue
        service.waitingForPort = false
        void reconcile(runtime, service)
      }
    }),
    live: new Set(),
    get closing() {
      return closing
    },
    emit(event) {
      try {
        onEvent?.(event)
      } catch {
        // A faulty listener must not stop a replica from being managed.
      }
    },
    changed(service) {
      // A removed service's last exits are not news: its watchers have heard not-found.
      if (services.get(service.name) === service) sink?.changed(service.name, toResponse(service))
    },
    reconcile: (service) => reconcile(runtime, service),
  }

  const lookup = (name: string, ns = namespace): Service => {
    const service = ns === namespace ? services.get(name) : undefined
    if (service === undefined) throw new ServiceNotFoundError(name, ns)
    return service
  }

  const assertOpen = () => {
    if (closing) throw new BackendError("the process service query is closed")
  }

  /** A service ready to be added, its name and definition checked. */
  const checkedService = (name: string, definition: ProcessServiceDefinition): Service => {
    const nameError = checkServiceName(name)
    if (nameError) throw nameError
    if (services.has(name)) throw new Error(`service ${name} already exists`)
    return newService(name, definition, defaults)
  }

  const add = (service: Service) => {
    services.set(service.name, service)
    runtime.changed(service)
    if (service.desired > 0) void reconcile(runtime, service)
  }

  const stopAll = async () => {
    closing = true
    for (const service of services.values()) {
      clearTimeout(service.restartTimer)
      service.restartTimer = undefined
      for (const replica of service.replicas) stopReplica(runtime, replica)
    }
    // A start in progress finishes (and, seeing the query closed, stops its replica).
    await Promise.all([...services.values()].map((service) => service.reconciling))
    for (let left = [...runtime.live]; left.length > 0; left = [...runtime.live]) {
      await Promise.all(left.map((replica) => replica.gone))
    }
    unregisterFromShutdown(participant)
  }

  const kit = defineServiceQuery({
    async read(name, ns) {
      const service = lookup(name, ns)
      assertOpen()
      return toResponse(service)
    },
    async setReplicas(name, ns, count) {
      const service = lookup(name, ns)
      assertOpen()
      checkCapacity(name, count, service.definition)
      service.desired = count
      runtime.changed(service)
      await reconcile(runtime, service)
    },
    changes(ns, changeSink, signal) {
      // Every change happens in this process, so the source hears all of them from the start.
      if (ns === namespace) {
        sink = changeSink
        signal.addEventListener("abort", () => {
          if (sink === changeSink) sink = undefined
        })
      }
      changeSink.connected()
    },
    onWatchError(error, context) {
      if (context.source === "listener" && context.service !== undefined) {
        runtime.emit({ type: "error", service: context.service, namespace, error })
      }
      onWatchError?.(error, context)
    },
    close: stopAll,
  })

  const participant: ShutdownParticipant = {
    close: () => kit.close(),
    killNow() {
      for (const replica of runtime.live) signalGroup(replica.pid, "SIGKILL")
    },
  }

  const watch = kit.watch!
  const query: ProcessServiceQuery = {
    namespace,
    defaultNamespace: namespace,
    get services() {
      return [...services.keys()]
    },
    get activeWatches() {
      return kit.activeWatches
    },
    getReplicas: (name, ns, queryOptions) => kit.getReplicas(name, ns, queryOptions),
    setReplicas: (name, ns, count, queryOptions) => kit.setReplicas(name, ns, count, queryOptions),
    watch: (name, ns, onChange, watchOptions) => watch(name, ns, onChange, watchOptions),
    addService(name, definition) {
      assertOpen()
      add(checkedService(name, definition))
    },
    async removeService(name, ns) {
      const service = lookup(name, ns)
      service.removed = true
      services.delete(name)
      clearTimeout(service.restartTimer)
      // No status with the hint: the watchers' read fails with not-found and tells each of them.
      sink?.changed(name)
      for (const replica of service.replicas) stopReplica(runtime, replica)
      await service.reconciling
      await Promise.all([...runtime.live].filter((r) => r.service === service).map((r) => r.gone))
    },
    endpoint(name, ns) {
      const service = lookup(name, ns)
      const ready = readyUrls(service)
      if (ready.length === 0) return undefined
      service.nextEndpoint = (service.nextEndpoint + 1) % ready.length
      return ready[service.nextEndpoint]
    },
    endpoints: (name, ns) => readyUrls(lookup(name, ns)),
    status: (name, ns) => toStatus(lookup(name, ns), namespace),
    close: () => kit.close(),
  }

  // Every definition is checked before anything is started or hooked.
  const initial = Object.entries(options.services ?? {}).map(([name, definition]) =>
    checkedService(name, definition),
  )
  registerForShutdown(participant)
  for (const service of initial) add(service)
  return query
}

import { DEFAULT_MAX_REPLICAS, DEFAULT_MIN_REPLICAS, DEFAULT_SCALING_FACTOR } from "../constants.js"
import { ServiceNotFoundError } from "../errors.js"
import { serviceKey } from "../function-cache.js"
import { numberOption } from "../options.js"
import {
  type ChangeSink,
  defineServiceQuery,
  type ProviderServiceQuery,
} from "../provider/define-service-query.js"
import type { ServiceQueryResponse } from "../types.js"

/** One service of the memory backend. */
export interface MemoryServiceDefinition {
  /** Desired (and ready) replicas at the start. Default 0: the service starts scaled to zero. */
  replicas?: number
  /** Replicas a scale-up from zero asks for. Default 1. */
  minReplicas?: number
  /** Default 5. */
  maxReplicas?: number
  /** Percent of `maxReplicas` added per scale-out step. Default 10. */
  scalingFactor?: number
  /** Reported as the service's labels (`com.openfaas.scale.zero`, …). */
  labels?: Record<string, string>
  /** Reported as the service's annotations. */
  annotations?: Record<string, string>
  /** Milliseconds from a scale-up until its replicas are ready; overrides the query's default. */
  startupDelayMs?: number
}

export interface MemoryServiceQueryOptions {
  /** Services by `name` (in `defaultNamespace`) or `name.namespace`. Add more with `addService`. */
  services?: Record<string, MemoryServiceDefinition>
  /** Namespace of the `services` keys that name none, and the gate's default. Default `openfaas-fn`. */
  defaultNamespace?: string
  /** Milliseconds from a scale-up until its replicas are ready. Default 0. */
  startupDelayMs?: number
  /** Offer `watch` (push readiness) or leave callers to poll. Default true. */
  watch?: boolean
}

/** Calls made through the public methods (the watch's own reads are not counted). */
export interface MemoryServiceQueryCalls {
  getReplicas: number
  setReplicas: number
  watch: number
}

/** An in-memory backend for demos and tests: services that take `startupDelayMs` to start. */
export interface MemoryServiceQuery extends ProviderServiceQuery {
  /** Namespace of the `services` keys that name none; the gate's default namespace too. */
  readonly defaultNamespace: string
  readonly calls: MemoryServiceQueryCalls
  addService(name: string, namespace: string, definition?: MemoryServiceDefinition): void
  removeService(name: string, namespace: string): void
  /** Makes every call fail with `error` until called again with undefined. */
  failWith(error: Error | undefined): void
  /** The current status, as getReplicas would report it, without counting a call. */
  status(name: string, namespace: string): ServiceQueryResponse | undefined
}

interface MemoryService {
  response: ServiceQueryResponse
  startupDelayMs: number
  startTimer: ReturnType<typeof setTimeout> | undefined
}

const copy = (response: ServiceQueryResponse): ServiceQueryResponse => ({
  ...response,
  ...(response.labels && { labels: { ...response.labels } }),
  ...(response.annotations && { annotations: { ...response.annotations } }),
})

/** The reference backend, built on the provider kit like every real one. */
export function createMemoryServiceQuery(
  options: MemoryServiceQueryOptions = {},
): MemoryServiceQuery {
  const defaultNamespace = options.defaultNamespace ?? "openfaas-fn"
  const defaultStartupDelayMs = numberOption(
    "startupDelayMs",
    options.startupDelayMs,
    0,
    "non-negative",
  )
  const services = new Map<string, MemoryService>()
  /** The kit's change sinks, by namespace: one while any service there is watched. */
  const sinks = new Map<string, ChangeSink>()
  const calls: MemoryServiceQueryCalls = { getReplicas: 0, setReplicas: 0, watch: 0 }
  let failure: Error | undefined

  const lookup = (name: string, namespace: string) => {
    if (failure) throw failure
    const service = services.get(serviceKey(name, namespace))
    if (service === undefined) throw new ServiceNotFoundError(name, namespace)
    return service
  }

  const notify = (name: string, namespace: string, service: MemoryService) => {
    sinks.get(namespace)?.changed(name, copy(service.response))
  }

  const addService = (
    name: string,
    namespace: string,
    definition: MemoryServiceDefinition = {},
  ) => {
    const replicas = definition.replicas ?? 0
    services.set(serviceKey(name, namespace), {
      response: {
        replicas,
        availableReplicas: replicas,
        minReplicas: definition.minReplicas ?? DEFAULT_MIN_REPLICAS,
        maxReplicas: definition.maxReplicas ?? DEFAULT_MAX_REPLICAS,
        scalingFactor: definition.scalingFactor ?? DEFAULT_SCALING_FACTOR,
        ...(definition.labels && { labels: definition.labels }),
        ...(definition.annotations && { annotations: definition.annotations }),
      },
      startupDelayMs: numberOption(
        `services.${name}.startupDelayMs`,
        definition.startupDelayMs,
        defaultStartupDelayMs,
        "non-negative",
      ),
      startTimer: undefined,
    })
  }

  for (const [fullName, definition] of Object.entries(options.services ?? {})) {
    const dot = fullName.lastIndexOf(".")
    if (dot > -1) addService(fullName.slice(0, dot), fullName.slice(dot + 1), definition)
    else addService(fullName, defaultNamespace, definition)
  }

  const stopStartups = () => {
    for (const service of services.values()) {
      clearTimeout(service.startTimer)
      service.startTimer = undefined
    }
  }

  const kit = defineServiceQuery({
    async read(name, namespace) {
      return copy(lookup(name, namespace).response)
    },
    async setReplicas(name, namespace, count) {
      const service = lookup(name, namespace)
      clearTimeout(service.startTimer)
      service.startTimer = undefined
      service.response.replicas = count
      if (count <= service.response.availableReplicas) {
        service.response.availableReplicas = count
        notify(name, namespace, service)
        return
      }
      notify(name, namespace, service)
      const becomeReady = () => {
        service.startTimer = undefined
        service.response.availableReplicas = service.response.replicas
        notify(name, namespace, service)
      }
      if (service.startupDelayMs === 0) becomeReady()
      else service.startTimer = setTimeout(becomeReady, service.startupDelayMs)
    },
    ...(options.watch !== false && {
      changes(namespace: string, sink: ChangeSink, signal: AbortSignal) {
        sinks.set(namespace, sink)
        signal.addEventListener("abort", () => sinks.delete(namespace), { once: true })
        sink.connected()
      },
    }),
    close: stopStartups,
  })

  const query: MemoryServiceQuery = {
    defaultNamespace,
    calls,
    get activeWatches() {
      return kit.activeWatches
    },
    getReplicas(name, namespace, queryOptions) {
      calls.getReplicas++
      return kit.getReplicas(name, namespace, queryOptions)
    },
    setReplicas(name, namespace, count, queryOptions) {
      calls.setReplicas++
      return kit.setReplicas(name, namespace, count, queryOptions)
    },
    addService,
    removeService(name, namespace) {
      const key = serviceKey(name, namespace)
      clearTimeout(services.get(key)?.startTimer)
      services.delete(key)
      sinks.get(namespace)?.changed(name)
    },
    failWith(error) {
      failure = error
    },
    status(name, namespace) {
      const service = services.get(serviceKey(name, namespace))
      return service && copy(service.response)
    },
    close: () => kit.close(),
  }
  const { watch } = kit
  if (watch !== undefined) {
    query.watch = (name, namespace, onChange, watchOptions) => {
      calls.watch++
      watch(name, namespace, onChange, watchOptions)
    }
  }
  return query
}

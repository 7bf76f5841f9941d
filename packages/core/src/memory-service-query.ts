import { DEFAULT_MAX_REPLICAS, DEFAULT_MIN_REPLICAS, DEFAULT_SCALING_FACTOR } from "./constants.js"
import { ServiceNotFoundError } from "./errors.js"
import { serviceKey } from "./function-cache.js"
import type { QueryOptions, ServiceQuery, ServiceQueryResponse } from "./types.js"

export interface MemoryServiceDefinition {
  /** Desired replicas at the start. Default 0: the service starts scaled to zero. */
  replicas?: number
  minReplicas?: number
  maxReplicas?: number
  scalingFactor?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  /** Milliseconds from a scale-up until its replicas are ready; overrides the query's default. */
  startupDelayMs?: number
}

export interface MemoryServiceQueryOptions {
  /** Services by `name` (in `defaultNamespace`) or `name.namespace`. */
  services?: Record<string, MemoryServiceDefinition>
  defaultNamespace?: string
  /** Milliseconds from a scale-up until its replicas are ready. Default 0. */
  startupDelayMs?: number
  /** Offer `watch` (push readiness) or leave callers to poll. Default true. */
  watch?: boolean
}

export interface MemoryServiceQueryCalls {
  getReplicas: number
  setReplicas: number
  watch: number
}

/** An in-memory backend for demos and tests: services that take `startupDelayMs` to start. */
export interface MemoryServiceQuery extends ServiceQuery {
  readonly calls: MemoryServiceQueryCalls
  /** Watches not yet ended by their signal. */
  readonly activeWatches: number
  addService(name: string, namespace: string, definition?: MemoryServiceDefinition): void
  removeService(name: string, namespace: string): void
  /** Makes every call fail with `error` until called again with undefined. */
  failWith(error: Error | undefined): void
  /** The current status, as getReplicas would report it, without counting a call. */
  status(name: string, namespace: string): ServiceQueryResponse | undefined
  /** Cancels pending start-ups. */
  close(): void
}

interface MemoryService {
  response: ServiceQueryResponse
  startupDelayMs: number
  startTimer: ReturnType<typeof setTimeout> | undefined
}

export function createMemoryServiceQuery(
  options: MemoryServiceQueryOptions = {},
): MemoryServiceQuery {
  const defaultNamespace = options.defaultNamespace ?? "openfaas-fn"
  const services = new Map<string, MemoryService>()
  const watchers = new Map<string, Set<(response: ServiceQueryResponse) => void>>()
  const calls: MemoryServiceQueryCalls = { getReplicas: 0, setReplicas: 0, watch: 0 }
  let failure: Error | undefined
  let activeWatches = 0

  const copy = (response: ServiceQueryResponse): ServiceQueryResponse => ({
    ...response,
    ...(response.labels && { labels: { ...response.labels } }),
    ...(response.annotations && { annotations: { ...response.annotations } }),
  })

  const lookup = (name: string, namespace: string, signal: AbortSignal | undefined) => {
    signal?.throwIfAborted()
    if (failure) throw failure
    const service = services.get(serviceKey(name, namespace))
    if (service === undefined) throw new ServiceNotFoundError(name, namespace)
    return service
  }

  const notify = (name: string, namespace: string, service: MemoryService) => {
    for (const onChange of watchers.get(serviceKey(name, namespace)) ?? []) {
      onChange(copy(service.response))
    }
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
      startupDelayMs: definition.startupDelayMs ?? options.startupDelayMs ?? 0,
      startTimer: undefined,
    })
  }

  for (const [fullName, definition] of Object.entries(options.services ?? {})) {
    const dot = fullName.lastIndexOf(".")
    if (dot > -1) addService(fullName.slice(0, dot), fullName.slice(dot + 1), definition)
    else addService(fullName, defaultNamespace, definition)
  }

  const query: MemoryServiceQuery = {
    calls,
    get activeWatches() {
      return activeWatches
    },
    async getReplicas(name, namespace, queryOptions?: QueryOptions) {
      calls.getReplicas++
      return copy(lookup(name, namespace, queryOptions?.signal).response)
    },
    async setReplicas(name, namespace, count, queryOptions?: QueryOptions) {
      calls.setReplicas++
      const service = lookup(name, namespace, queryOptions?.signal)
      if (!Number.isInteger(count) || count < 0)
        throw new RangeError(`invalid replica count ${count}`)
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
    addService,
    removeService(name, namespace) {
      const key = serviceKey(name, namespace)
      clearTimeout(services.get(key)?.startTimer)
      services.delete(key)
    },
    failWith(error) {
      failure = error
    },
    status(name, namespace) {
      const service = services.get(serviceKey(name, namespace))
      return service && copy(service.response)
    },
    close() {
      for (const service of services.values()) {
        clearTimeout(service.startTimer)
        service.startTimer = undefined
      }
    },
  }

  if (options.watch !== false) {
    query.watch = (name, namespace, onChange, watchOptions) => {
      calls.watch++
      const signal = watchOptions?.signal
      if (signal?.aborted) return
      const key = serviceKey(name, namespace)
      let set = watchers.get(key)
      if (set === undefined) {
        set = new Set()
        watchers.set(key, set)
      }
      const listeners = set
      // Each subscription is its own function, so one service can be watched twice.
      const listener = (response: ServiceQueryResponse) => onChange(response)
      listeners.add(listener)
      activeWatches++
      signal?.addEventListener(
        "abort",
        () => {
          listeners.delete(listener)
          if (listeners.size === 0) watchers.delete(key)
          activeWatches--
        },
        { once: true },
      )
    }
  }
  return query
}

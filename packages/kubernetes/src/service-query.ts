import { KubeConfig, type V1Scale } from "@kubernetes/client-node"
import type { QueryOptions, ServiceQuery, ServiceQueryResponse } from "@scale-from-zero/core"
import { createKubernetesApi, type WorkloadKind } from "./api.js"
import { KubernetesApiError } from "./errors.js"
import { NamespaceWatch, type WatchErrorContext } from "./namespace-watch.js"
import { type Readiness, toServiceQueryResponse } from "./status.js"

export interface KubernetesServiceQueryOptions {
  /** Credentials and cluster. Default: `loadFromDefault()` (KUBECONFIG, ~/.kube/config, then in-cluster). */
  kubeConfig?: KubeConfig
  /** The workload each service name refers to. Default "Deployment". */
  kind?: WorkloadKind
  /**
   * "endpoints" (default): available replicas are the ready endpoints in the EndpointSlices of the
   * Service named like the workload. "workload": the workload's own status alone.
   */
  readiness?: Readiness
  /** The field manager recorded for scale updates. Default "scale-from-zero". */
  fieldManager?: string
  /** Milliseconds each API request may take. Default 10 000. */
  requestTimeoutMs?: number
  /** Scale updates tried when another writer changed the workload in between (409). Default 5. */
  conflictRetries?: number
  /** Milliseconds between reads of watched services while a watch is down. Default 1000. */
  pollIntervalMs?: number
  /** Seconds after which the API server ends each watch request, which is then resumed. Default 300. */
  watchTimeoutSeconds?: number
  /** Called when a watch fails (it falls back to polling and retries) or a fallback read fails. */
  onWatchError?: (error: Error, context: WatchErrorContext) => void
}

export interface KubernetesServiceQuery extends ServiceQuery {
  watch(
    service: string,
    namespace: string,
    onChange: (response: ServiceQueryResponse) => void,
    options?: QueryOptions,
  ): void
  /** Namespaces watched now (one shared watch per resource in each). */
  readonly watchedNamespaces: number
  /** Ends every watch at once, whatever their signals; resolves when no request is left open. */
  close(): Promise<void>
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
const DEFAULT_CONFLICT_RETRIES = 5
const DEFAULT_POLL_INTERVAL_MS = 1000
const DEFAULT_WATCH_TIMEOUT_SECONDS = 300
const WATCH_MIN_BACKOFF_MS = 100
const WATCH_MAX_BACKOFF_MS = 10_000

function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`)
  }
  return value
}

/**
 * A ServiceQuery over Kubernetes Deployments or StatefulSets: reads replicas and scale labels,
 * scales through the `scale` subresource, and pushes readiness from shared watches.
 */
export function createKubernetesServiceQuery(
  options: KubernetesServiceQueryOptions = {},
): KubernetesServiceQuery {
  const kind = options.kind ?? "Deployment"
  if (kind !== "Deployment" && kind !== "StatefulSet") {
    throw new TypeError(`kind must be "Deployment" or "StatefulSet", got ${String(kind)}`)
  }
  const readiness = options.readiness ?? "endpoints"
  if (readiness !== "endpoints" && readiness !== "workload") {
    throw new TypeError(`readiness must be "endpoints" or "workload", got ${String(readiness)}`)
  }
  const requestTimeoutMs = positiveInteger(
    options.requestTimeoutMs,
    DEFAULT_REQUEST_TIMEOUT_MS,
    "requestTimeoutMs",
  )
  const conflictRetries = positiveInteger(
    options.conflictRetries,
    DEFAULT_CONFLICT_RETRIES,
    "conflictRetries",
  )
  const pollIntervalMs = positiveInteger(
    options.pollIntervalMs,
    DEFAULT_POLL_INTERVAL_MS,
    "pollIntervalMs",
  )
  const watchTimeoutSeconds = positiveInteger(
    options.watchTimeoutSeconds,
    DEFAULT_WATCH_TIMEOUT_SECONDS,
    "watchTimeoutSeconds",
  )
  const kubeConfig =
    options.kubeConfig ??
    (() => {
      const loaded = new KubeConfig()
      loaded.loadFromDefault()
      return loaded
    })()
  const api = createKubernetesApi(
    kubeConfig,
    kind,
    requestTimeoutMs,
    options.fieldManager ?? "scale-from-zero",
  )
  const onWatchError = options.onWatchError ?? (() => {})
  const namespaces = new Map<string, NamespaceWatch>()

  const getReplicas = async (service: string, namespace: string, signal?: AbortSignal) => {
    const [workload, slices] = await Promise.all([
      api.readWorkload(service, namespace, signal),
      readiness === "endpoints"
        ? api.listEndpointSlices(namespace, service, signal)
        : Promise.resolve(undefined),
    ])
    return toServiceQueryResponse(kind, readiness, workload, slices?.items)
  }

  const release = (namespace: string, watch: NamespaceWatch) => {
    if (watch.subscribers > 0 || namespaces.get(namespace) !== watch) return
    namespaces.delete(namespace)
    void watch.stop()
  }

  return {
    getReplicas(service, namespace, queryOptions) {
      return getReplicas(service, namespace, queryOptions?.signal)
    },

    async setReplicas(service, namespace, count, queryOptions) {
      if (!Number.isInteger(count) || count < 0) {
        throw new RangeError(`replicas must be a non-negative integer, got ${count}`)
      }
      const signal = queryOptions?.signal
      for (let attempt = 1; ; attempt++) {
        const current = await api.readScale(service, namespace, signal)
        if (current.spec?.replicas === count) return
        const scale: V1Scale = {
          apiVersion: "autoscaling/v1",
          kind: "Scale",
          metadata: {
            name: service,
            namespace,
            // Optimistic concurrency: the write fails with 409 if the workload changed since the read.
            ...(current.metadata?.resourceVersion && {
              resourceVersion: current.metadata.resourceVersion,
            }),
          },
          spec: { replicas: count },
        }
        try {
          await api.replaceScale(service, namespace, scale, signal)
          return
        } catch (error) {
          const conflict = error instanceof KubernetesApiError && error.status === 409
          if (!conflict || attempt >= conflictRetries) throw error
        }
      }
    },

    watch(service, namespace, onChange, watchOptions) {
      const signal = watchOptions?.signal
      if (signal?.aborted) return
      let shared = namespaces.get(namespace)
      if (shared === undefined) {
        shared = new NamespaceWatch({
          api,
          namespace,
          readiness,
          pollIntervalMs,
          watchTimeoutSeconds,
          minBackoffMs: WATCH_MIN_BACKOFF_MS,
          maxBackoffMs: WATCH_MAX_BACKOFF_MS,
          read: (name, readSignal) => getReplicas(name, namespace, readSignal),
          onError: onWatchError,
        })
        namespaces.set(namespace, shared)
      }
      const watch = shared
      const unsubscribe = watch.subscribe(service, onChange)
      signal?.addEventListener(
        "abort",
        () => {
          unsubscribe()
          release(namespace, watch)
        },
        { once: true },
      )
    },

    get watchedNamespaces() {
      return namespaces.size
    },

    async close() {
      const watches = [...namespaces.values()]
      namespaces.clear()
      await Promise.all(watches.map((watch) => watch.stop()))
    },
  }
}

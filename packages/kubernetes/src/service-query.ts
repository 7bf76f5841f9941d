import { KubeConfig, type V1Scale } from "@kubernetes/client-node"
import {
  DEFAULT_PROVIDER_POLL_INTERVAL_MS,
  defineServiceQuery,
  invalidOption,
  numberOption,
  optionsObject,
  type ProviderServiceQuery,
  type ServiceQuery,
  type ServiceQueryDefinition,
} from "@scale-from-zero/core/provider"
import { createKubernetesApi, type KubernetesApi, type WorkloadKind } from "./api.js"
import { KubernetesApiError } from "./errors.js"
import { watchNamespace } from "./namespace-watch.js"
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
  /**
   * Hears what a watch could not deliver: a failed watch (`source: "changes"`; the error names
   * the collection, e.g. `KubernetesPermissionError` with `verb` and `resource`), a failed status
   * read (`"read"`) or an `onChange` that threw (`"listener"`).
   */
  onWatchError?: ServiceQueryDefinition["onWatchError"]
}

export interface KubernetesServiceQuery extends ProviderServiceQuery {
  watch: NonNullable<ServiceQuery["watch"]>
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
const DEFAULT_CONFLICT_RETRIES = 5
const DEFAULT_WATCH_TIMEOUT_SECONDS = 300

function oneOf<T extends string>(option: string, value: T | undefined, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0] as T
  if (!allowed.includes(value)) {
    throw invalidOption(option, allowed.map((v) => JSON.stringify(v)).join(" or "), value)
  }
  return value
}

/** Sets replicas through the scale subresource, again on a fresh read when another writer won (409). */
async function scale(
  api: KubernetesApi,
  service: string,
  namespace: string,
  count: number,
  attempts: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = await api.readScale(service, namespace, signal)
    // The API server leaves zero fields out: a Scale at 0 replicas has an empty spec.
    if ((current.spec?.replicas ?? 0) === count) return
    const body: V1Scale = {
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
      await api.replaceScale(service, namespace, body, signal)
      return
    } catch (error) {
      const conflict = error instanceof KubernetesApiError && error.status === 409
      if (!conflict || attempt >= attempts) throw error
    }
  }
}

/**
 * A ServiceQuery over Kubernetes Deployments or StatefulSets: reads replicas and scale labels,
 * scales through the `scale` subresource, and pushes readiness from one shared list+watch per
 * namespace. Watching, polling while a watch is down and cleanup are the provider kit's.
 */
export function createKubernetesServiceQuery(
  given?: KubernetesServiceQueryOptions,
): KubernetesServiceQuery {
  const options = optionsObject(given, "{ kind, readiness }")
  const kind = oneOf("kind", options.kind, ["Deployment", "StatefulSet"])
  const readiness = oneOf("readiness", options.readiness, ["endpoints", "workload"])
  const requestTimeoutMs = numberOption(
    "requestTimeoutMs",
    options.requestTimeoutMs,
    DEFAULT_REQUEST_TIMEOUT_MS,
    "positive",
  )
  const conflictRetries = numberOption(
    "conflictRetries",
    options.conflictRetries,
    DEFAULT_CONFLICT_RETRIES,
    "positive integer",
  )
  // The API server takes whole seconds.
  const watchTimeoutSeconds = numberOption(
    "watchTimeoutSeconds",
    options.watchTimeoutSeconds,
    DEFAULT_WATCH_TIMEOUT_SECONDS,
    "positive integer",
  )
  // Checked here too, so that every option is checked before credentials are loaded.
  const pollIntervalMs = numberOption(
    "pollIntervalMs",
    options.pollIntervalMs,
    DEFAULT_PROVIDER_POLL_INTERVAL_MS,
    "positive",
  )
  const fieldManager = options.fieldManager ?? "scale-from-zero"
  if (typeof fieldManager !== "string" || fieldManager === "") {
    throw invalidOption("fieldManager", "a non-empty string", fieldManager)
  }
  const kubeConfig =
    options.kubeConfig ??
    (() => {
      const loaded = new KubeConfig()
      loaded.loadFromDefault()
      return loaded
    })()
  const api = createKubernetesApi(kubeConfig, kind, requestTimeoutMs, fieldManager)
  /** Namespace watches still running, so that close() resolves once their requests ended. */
  const running = new Set<Promise<void>>()

  const query = defineServiceQuery({
    async read(service, namespace, { signal }) {
      const [workload, slices] = await Promise.all([
        api.readWorkload(service, namespace, signal),
        readiness === "endpoints"
          ? api.listEndpointSlices(namespace, service, signal)
          : Promise.resolve(undefined),
      ])
      return toServiceQueryResponse(kind, readiness, workload, slices?.items)
    },
    setReplicas(service, namespace, count, { signal }) {
      return scale(api, service, namespace, count, conflictRetries, signal)
    },
    changes(namespace, sink, signal) {
      const done = watchNamespace({ api, readiness, watchTimeoutSeconds }, namespace, sink, signal)
      running.add(done)
      void done.finally(() => running.delete(done))
    },
    pollIntervalMs,
    ...(options.onWatchError !== undefined && { onWatchError: options.onWatchError }),
    async close() {
      await Promise.all(running)
    },
  })
  // Built with `changes`, the kit's query always offers watch.
  return query as KubernetesServiceQuery
}

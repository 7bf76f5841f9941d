import { setTimeout as sleep } from "node:timers/promises"
import type { V1EndpointSlice } from "@kubernetes/client-node"
import type { ServiceQueryResponse } from "@scale-from-zero/core"
import { asError } from "@scale-from-zero/core"
import { type KubernetesApi, SERVICE_NAME_LABEL, WORKLOAD_RESOURCE, type Workload } from "./api.js"
import { ResourceWatch } from "./resource-watch.js"
import { type Readiness, responseKey, toServiceQueryResponse } from "./status.js"

export type StatusListener = (response: ServiceQueryResponse) => void

export interface WatchErrorContext {
  namespace: string
  /**
   * What failed: the watch of `deployments`, `statefulsets` or `endpointslices`; `poll`, a read
   * of the polling fallback; `labels`, a workload whose scale labels cannot be read; `listener`,
   * an `onChange` that threw.
   */
  resource: string
}

export interface NamespaceWatchOptions {
  api: KubernetesApi
  namespace: string
  readiness: Readiness
  pollIntervalMs: number
  watchTimeoutSeconds: number
  minBackoffMs: number
  maxBackoffMs: number
  /** Reads one service live, for the polling fallback. */
  read(service: string, signal: AbortSignal): Promise<ServiceQueryResponse>
  onError(error: Error, context: WatchErrorContext): void
}

/**
 * Every subscription in one namespace shares one watch of the workloads and, with `endpoints`
 * readiness, one of the EndpointSlices. While either watch is down, subscribed services are
 * polled instead, so a denied `watch` verb or a flapping connection still releases requests.
 */
export class NamespaceWatch {
  private readonly listeners = new Map<string, Set<StatusListener>>()
  private readonly lastSent = new Map<string, string>()
  private readonly workloads: ResourceWatch<Workload>
  private readonly slices: ResourceWatch<V1EndpointSlice> | undefined
  private readonly stopping = new AbortController()
  private polling: Promise<void> | undefined

  constructor(private readonly options: NamespaceWatchOptions) {
    const { api, namespace, watchTimeoutSeconds, minBackoffMs, maxBackoffMs } = options
    const encoded = encodeURIComponent(namespace)
    const common = {
      kubeConfig: api.kubeConfig,
      onChange: (subjects: ReadonlySet<string>) => {
        for (const subject of subjects) this.publish(subject)
      },
      timeoutSeconds: watchTimeoutSeconds,
      minBackoffMs,
      maxBackoffMs,
    }
    const workloadResource = WORKLOAD_RESOURCE[api.kind]
    this.workloads = new ResourceWatch<Workload>({
      ...common,
      path: `/apis/apps/v1/namespaces/${encoded}/${workloadResource}`,
      access: { verb: "watch", resource: workloadResource, group: "apps", namespace },
      list: (signal) => api.listWorkloads(namespace, signal),
      subjectOf: (workload) => workload.metadata?.name,
      onHealth: (healthy, error) => this.onHealth(healthy, workloadResource, error),
    })
    this.slices =
      options.readiness === "endpoints"
        ? new ResourceWatch<V1EndpointSlice>({
            ...common,
            path: `/apis/discovery.k8s.io/v1/namespaces/${encoded}/endpointslices`,
            labelSelector: SERVICE_NAME_LABEL,
            access: {
              verb: "watch",
              resource: "endpointslices",
              group: "discovery.k8s.io",
              namespace,
            },
            list: (signal) => api.listEndpointSlices(namespace, undefined, signal),
            subjectOf: (slice) => slice.metadata?.labels?.[SERVICE_NAME_LABEL],
            onHealth: (healthy, error) => this.onHealth(healthy, "endpointslices", error),
          })
        : undefined
  }

  get subscribers(): number {
    let count = 0
    for (const set of this.listeners.values()) count += set.size
    return count
  }

  /** Adds a listener; it hears the service's current status (once known) and every change after. */
  subscribe(service: string, listener: StatusListener): () => void {
    let set = this.listeners.get(service)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(service, set)
    }
    set.add(listener)
    queueMicrotask(() => {
      const response = set.has(listener) ? this.readStore(service) : undefined
      if (response !== undefined) this.deliver(response, [listener])
    })
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.listeners.get(service) === set) {
        this.listeners.delete(service)
        this.lastSent.delete(service)
      }
    }
  }

  stop(): Promise<void> {
    this.stopping.abort()
    return Promise.all([
      this.workloads.stop(),
      this.slices?.stop(),
      this.polling?.catch(() => {}),
    ]).then(() => {})
  }

  private get watching(): boolean {
    return this.workloads.isHealthy && (this.slices?.isHealthy ?? true)
  }

  private current(service: string): ServiceQueryResponse | undefined {
    // While a watch is down its copy may be stale: the polling fallback speaks instead.
    if (!this.watching) return undefined
    const workload = this.workloads.objects.get(service)
    if (workload === undefined) return undefined
    const { kind } = this.options.api
    return toServiceQueryResponse(kind, this.options.readiness, workload, this.slices?.of(service))
  }

  /** Pushes a service's status to its listeners when it differs from the last one pushed. */
  private publish(service: string, known?: ServiceQueryResponse) {
    const set = this.listeners.get(service)
    if (set === undefined) return
    const response = known ?? this.readStore(service)
    if (response === undefined) return
    const key = responseKey(response)
    if (this.lastSent.get(service) === key) return
    this.lastSent.set(service, key)
    this.deliver(response, [...set])
  }

  private readStore(service: string): ServiceQueryResponse | undefined {
    try {
      return this.current(service)
    } catch (error) {
      // A workload whose labels cannot be read (a scale factor out of range): say so, push nothing.
      this.options.onError(asError(error), {
        namespace: this.options.namespace,
        resource: "labels",
      })
      return undefined
    }
  }

  private deliver(response: ServiceQueryResponse, listeners: StatusListener[]) {
    for (const listener of listeners) {
      try {
        listener(response)
      } catch (error) {
        this.options.onError(asError(error), {
          namespace: this.options.namespace,
          resource: "listener",
        })
      }
    }
  }

  private onHealth(healthy: boolean, resource: string, error: Error | undefined) {
    if (error !== undefined)
      this.options.onError(error, { namespace: this.options.namespace, resource })
    if (healthy) {
      // Caught up: what changed while the watch was down is in the fresh list.
      for (const service of this.listeners.keys()) this.publish(service)
    } else if (this.polling === undefined && !this.stopping.signal.aborted) {
      this.polling = this.poll().finally(() => {
        this.polling = undefined
      })
    }
  }

  /** The fallback: reads each subscribed service until both watches are healthy again. */
  private async poll() {
    const { signal } = this.stopping
    const { namespace, pollIntervalMs } = this.options
    while (!signal.aborted && !this.watching) {
      for (const service of [...this.listeners.keys()]) {
        if (signal.aborted) return
        try {
          this.publish(service, await this.options.read(service, signal))
        } catch (error) {
          if (signal.aborted) return
          this.options.onError(asError(error), { namespace, resource: "poll" })
        }
      }
      try {
        await sleep(pollIntervalMs, undefined, { signal })
      } catch {
        return
      }
    }
  }
}

import type { V1EndpointSlice } from "@kubernetes/client-node"
import type { ChangeSink, ServiceQueryResponse } from "@scale-from-zero/core/provider"
import { type KubernetesApi, SERVICE_NAME_LABEL, WORKLOAD_RESOURCE, type Workload } from "./api.js"
import { ResourceWatch } from "./resource-watch.js"
import { type Readiness, toServiceQueryResponse } from "./status.js"

export interface NamespaceWatchOptions {
  api: KubernetesApi
  readiness: Readiness
  watchTimeoutSeconds: number
}

/**
 * The provider kit's source of change hints for one namespace: a list+watch of the workloads
 * and, with `endpoints` readiness, of the EndpointSlices. Statuses are computed from their
 * local copies, so a change costs no API read. If either watch fails both end, and the kit
 * polls and opens the source again. Resolves once every request it opened has ended.
 */
export function watchNamespace(
  { api, readiness, watchTimeoutSeconds }: NamespaceWatchOptions,
  namespace: string,
  sink: ChangeSink,
  signal: AbortSignal,
): Promise<void> {
  const stop = new AbortController()
  const onAbort = () => stop.abort()
  signal.addEventListener("abort", onAbort, { once: true })
  const encoded = encodeURIComponent(namespace)
  let unsynced = readiness === "endpoints" ? 2 : 1

  const statusOf = (service: string): ServiceQueryResponse | undefined => {
    const workload = workloads.objects.get(service)
    // Gone, or labels it cannot read: the kit's own read then tells the watchers why.
    if (workload === undefined) return undefined
    try {
      return toServiceQueryResponse(api.kind, readiness, workload, slices?.of(service))
    } catch {
      return undefined
    }
  }
  const common = {
    kubeConfig: api.kubeConfig,
    timeoutSeconds: watchTimeoutSeconds,
    signal: stop.signal,
    onSynced() {
      if (--unsynced === 0) sink.connected()
    },
    onChange(subjects: ReadonlySet<string>) {
      // Until both copies are listed a status would be half known; connected() re-reads them all.
      if (unsynced > 0) return
      for (const service of subjects) sink.changed(service, statusOf(service))
    },
    onFailed(error: Error) {
      if (stop.signal.aborted) return
      stop.abort()
      sink.failed(error)
    },
  }
  const workloadResource = WORKLOAD_RESOURCE[api.kind]
  const workloads = new ResourceWatch<Workload>({
    ...common,
    path: `/apis/apps/v1/namespaces/${encoded}/${workloadResource}`,
    access: { verb: "watch", resource: workloadResource, group: "apps", namespace },
    list: (listSignal) => api.listWorkloads(namespace, listSignal),
    subjectOf: (workload) => workload.metadata?.name,
  })
  const slices =
    readiness === "endpoints"
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
          list: (listSignal) => api.listEndpointSlices(namespace, undefined, listSignal),
          subjectOf: (slice) => slice.metadata?.labels?.[SERVICE_NAME_LABEL],
        })
      : undefined
  return Promise.all([workloads.done, slices?.done]).then(() => {
    signal.removeEventListener("abort", onAbort)
  })
}

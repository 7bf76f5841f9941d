import type { V1EndpointSlice } from "@kubernetes/client-node"
import { readScaleLabels, type ServiceQueryResponse } from "@scale-from-zero/core/provider"
import type { Workload, WorkloadKind } from "./api.js"

export type Readiness = "endpoints" | "workload"

/** Pods the workload's controller reports ready: a Deployment's available, a StatefulSet's ready replicas. */
export function workloadReadyReplicas(kind: WorkloadKind, workload: Workload): number {
  const status = workload.status
  return (kind === "Deployment" ? status?.availableReplicas : status?.readyReplicas) ?? 0
}

/**
 * Endpoints that can take traffic. An unset `ready` condition means unknown, which the API
 * reference says consumers should treat as ready. One endpoint may show up in two slices while
 * the controller moves it, so each pod (or address) counts once.
 */
export function readyEndpoints(slices: Iterable<V1EndpointSlice>): number {
  const ready = new Set<string>()
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue
      const identity = endpoint.targetRef?.uid ?? endpoint.addresses?.[0]
      if (identity !== undefined) ready.add(identity)
    }
  }
  return ready.size
}

/**
 * The status the scaler sees. Desired replicas come from `spec.replicas` (unset means 1, the API's
 * default); labels and annotations from the workload's metadata with its pod template's on top
 * (the template is where faas-netes reads them). With `endpoints` readiness, available replicas are
 * the Service's ready endpoints, capped at the desired replicas: endpoints of pods that are going
 * away after a scale to zero, or of another workload behind the same Service, never count as capacity
 * this workload was asked for.
 * @throws RangeError for a scale factor label outside 1..100, as the OpenFaaS gateway.
 */
export function toServiceQueryResponse(
  kind: WorkloadKind,
  readiness: Readiness,
  workload: Workload,
  slices: Iterable<V1EndpointSlice> | undefined,
): ServiceQueryResponse {
  const replicas = workload.spec?.replicas ?? 1
  const labels = { ...workload.metadata?.labels, ...workload.spec?.template?.metadata?.labels }
  const annotations = {
    ...workload.metadata?.annotations,
    ...workload.spec?.template?.metadata?.annotations,
  }
  const availableReplicas =
    readiness === "endpoints"
      ? Math.min(readyEndpoints(slices ?? []), replicas)
      : workloadReadyReplicas(kind, workload)
  return { replicas, availableReplicas, ...readScaleLabels(labels), labels, annotations }
}

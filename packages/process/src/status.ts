import type { ServiceQueryResponse } from "@scale-from-zero/core/provider"
import type { ProcessServiceStatus } from "./options.js"
import type { Service } from "./runtime.js"

export const readyUrls = (service: Service): string[] =>
  service.replicas.filter((replica) => replica.state === "ready").map((replica) => replica.url)

/** What getReplicas and watch report: desired and ready replicas, scale limits, labels. */
export function toResponse(service: Service): ServiceQueryResponse {
  const { definition } = service
  return {
    replicas: service.desired,
    availableReplicas: readyUrls(service).length,
    minReplicas: definition.minReplicas,
    maxReplicas: definition.maxReplicas,
    scalingFactor: definition.scalingFactor,
    ...(definition.labels && { labels: { ...definition.labels } }),
    ...(definition.annotations && { annotations: { ...definition.annotations } }),
  }
}

/** What status() reports: every process, crashes and back-off. */
export function toStatus(service: Service, namespace: string): ProcessServiceStatus {
  return {
    name: service.name,
    namespace,
    replicas: service.desired,
    availableReplicas: readyUrls(service).length,
    processes: service.replicas.map((replica) => ({
      pid: replica.pid,
      port: replica.port,
      url: replica.url,
      state: replica.state,
      startedAt: replica.startedAt,
      ...(replica.readyAt !== undefined && { readyAt: replica.readyAt }),
    })),
    crashes: service.crashes,
    consecutiveFailures: service.failures,
    ...(service.backoffUntil > Date.now() && { backoffUntil: service.backoffUntil }),
    ...(service.lastExit && { lastExit: { ...service.lastExit } }),
    ...(service.lastError && { lastError: service.lastError }),
  }
}

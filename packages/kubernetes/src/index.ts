export { KubernetesTimeoutError, type WorkloadKind } from "./api.js"
export { type KubernetesAccess, KubernetesApiError, KubernetesPermissionError } from "./errors.js"
export type { WatchErrorContext } from "./namespace-watch.js"
export {
  createKubernetesServiceQuery,
  type KubernetesServiceQuery,
  type KubernetesServiceQueryOptions,
} from "./service-query.js"
export type { Readiness } from "./status.js"

export type { WatchErrorContext } from "@scale-from-zero/core/provider"
export { KubernetesTimeoutError, type WorkloadKind } from "./api.js"
export {
  type KubernetesAccess,
  KubernetesApiError,
  KubernetesPermissionError,
  KubernetesWatchError,
} from "./errors.js"
export {
  createKubernetesServiceQuery,
  type KubernetesServiceQuery,
  type KubernetesServiceQueryOptions,
} from "./service-query.js"
export type { Readiness } from "./status.js"

export {
  type CoordinatorClass,
  type CoordinatorOptions,
  createCoordinator,
  DEFAULT_STATUS_CACHE_MS,
  type DurableObjectStateLike,
} from "./coordinator.js"
export {
  CoordinatorError,
  createDurableObjectServiceQuery,
  createDurableObjectSharedActivity,
  DEFAULT_TIMEOUT_MS,
  type DurableObjectNamespaceLike,
  type DurableObjectSharedOptions,
} from "./shared.js"

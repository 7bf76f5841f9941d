export { asError, type Deadline, deadline } from "./abortable.js"
export * from "./cached-function-query.js"
export * from "./constants.js"
export { parseDuration } from "./duration.js"
export * from "./errors.js"
export type * from "./events.js"
export {
  createFunctionCache,
  DEFAULT_CACHE_MAX_ENTRIES,
  type FunctionCacheLookup,
  type FunctionCacheOptions,
  type FunctionCacher,
  FunctionMeta,
  serviceKey,
} from "./function-cache.js"
export * from "./function-scaler.js"
export * from "./gate.js"
export * from "./horizontal-scaling.js"
export {
  DEFAULT_IDLE_AFTER_MS,
  type ScaleToZeroOptions,
  type ServiceActivity,
} from "./idle-scale-down.js"
export * from "./memory-service-query.js"
export * from "./names.js"
export { readScaleLabels, type ScaleLimits } from "./scale-labels.js"
export { createMemorySharedActivity, type SharedActivity } from "./shared-activity.js"
export { SingleFlight } from "./single-flight.js"
export type * from "./types.js"
export * from "./waiting-page.js"

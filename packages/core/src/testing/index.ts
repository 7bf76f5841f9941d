/**
 * `@scale-from-zero/core/testing`: in-memory stand-ins for a backend and for shared activity,
 * for demos and for testing a gateway without real services.
 */
export { createMemorySharedActivity } from "../shared-activity.js"
export { createMemorySharedWakes, type MemorySharedWakes } from "../shared-wake.js"
export {
  createMemoryServiceQuery,
  type MemoryServiceDefinition,
  type MemoryServiceQuery,
  type MemoryServiceQueryCalls,
  type MemoryServiceQueryOptions,
} from "./memory-service-query.js"

/**
 * `@scale-from-zero/core`: what a gateway author uses. The framework bridges are in
 * `/node` and `/web`, the backend kit in `/provider`, the in-memory backend in `/testing`.
 */
export type { AbortListener, WaitSignal } from "./abortable.js"
export { createCachedFunctionQuery, type FunctionQuery } from "./cached-function-query.js"
export {
  DEFAULT_MAX_REPLICAS,
  DEFAULT_MIN_REPLICAS,
  DEFAULT_NAMESPACE,
  DEFAULT_SCALING_FACTOR,
  DEFAULT_TYPE_SCALE,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  SCALING_FACTOR_LABEL,
  ZERO_DURATION_LABEL,
  ZERO_SCALE_LABEL,
} from "./constants.js"
export { DEPENDS_ON_LABEL, type Dependencies, type DependencySpec } from "./dependencies.js"
export { parseDuration } from "./duration.js"
export {
  BackendError,
  type BackendErrorOptions,
  DependencyError,
  ERROR_CODES,
  type ErrorCode,
  InvalidServiceNameError,
  OverloadedError,
  ScaleTimeoutError,
  ServiceNotFoundError,
} from "./errors.js"
export type * from "./events.js"
export {
  createFunctionCache,
  type FunctionCacheLookup,
  type FunctionCacheOptions,
  type FunctionCacher,
} from "./function-cache.js"
export {
  createFunctionScaler,
  type FunctionScaleResult,
  type FunctionScaler,
  type ResolvedScalingConfig,
  type ScaleOptions,
  type ScaleOutcome,
  type ScalingConfig,
} from "./function-scaler.js"
export {
  createGate,
  type Gate,
  type GateHold,
  type GateOptions,
  type GatePass,
  type GateReply,
  type GateRequest,
  type GateVerdict,
  type HeaderReader,
  type InFlight,
  type PrewarmHint,
  type RequestPredicate,
  type RoutePolicy,
  type ScaleFromZeroOptions,
  type ServiceResolver,
  type ServiceTarget,
  type SharedGateOptions,
  type SleepOptions,
  type Traffic,
  type WaitingPageOptions,
} from "./gate.js"
export {
  type HorizontalScalingResult,
  normalizeScaleRequest,
  type ScaleServiceRequest,
} from "./horizontal-scaling.js"
export type { ScaleToZeroOptions } from "./idle-scale-down.js"
export type { KeepWarmWindow } from "./keep-warm.js"
export { notMonitoring } from "./monitoring.js"
export { getNamespace, getServiceName, resolveOpenFaaSPath } from "./names.js"
export type * from "./observer.js"
export type { RefusalFormat } from "./refusal.js"
export type { ScaleOutOptions, SharedConcurrency } from "./scale-out.js"
export type { SharedActivity } from "./shared-activity.js"
export type { SharedWakes } from "./shared-wake.js"
export { SingleFlight } from "./single-flight.js"
export type { ServiceState, ServiceStatus } from "./status.js"
export type { StatusHandlerOptions } from "./status-page.js"
export type * from "./types.js"
export { renderWaitingPage, type WaitingPageInfo } from "./waiting-page.js"

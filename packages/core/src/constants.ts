/** Minimum replicas a service is scaled to from zero, unless its labels say otherwise. */
export const DEFAULT_MIN_REPLICAS = 1
/** Maximum replicas, also the upper clamp of the horizontal-scaling handler. */
export const DEFAULT_MAX_REPLICAS = 5
/** Percentage of max replicas added per alert (OpenFaaS alert-based autoscaler). */
export const DEFAULT_SCALING_FACTOR = 10
/** The autoscaler's default scaling type. */
export const DEFAULT_TYPE_SCALE = "rps"

export const MIN_SCALE_LABEL = "com.openfaas.scale.min"
export const MAX_SCALE_LABEL = "com.openfaas.scale.max"
export const SCALING_FACTOR_LABEL = "com.openfaas.scale.factor"
/** `"true"` opts a service in to idle scale-to-zero. */
export const ZERO_SCALE_LABEL = "com.openfaas.scale.zero"
/** How long a service must stay idle before it is scaled to zero (`"15m"`, `"30s"`, `"500ms"`). */
export const ZERO_DURATION_LABEL = "com.openfaas.scale.zero-duration"

/** OpenFaaS's namespace for functions, used when a request names none. */
export const DEFAULT_NAMESPACE = "openfaas-fn"

import type { ScalingObserver } from "@scale-from-zero/core"
import { invalidOption } from "@scale-from-zero/core/provider"
import { Counter, Gauge, Histogram, type Metric, type Registry, register } from "prom-client"

export interface PrometheusMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  registry?: Registry
  /** Upper bounds, in seconds, of the cold-start histogram's buckets. */
  coldStartBucketsSeconds?: readonly number[]
  /** Upper bounds, in seconds, of the backend-call histogram's buckets. */
  backendBucketsSeconds?: readonly number[]
}

export const DEFAULT_COLD_START_BUCKETS_SECONDS: readonly number[] = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
]
export const DEFAULT_BACKEND_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]

/** Every metric's name starts with this. */
export const METRIC_PREFIX = "scale_from_zero_"

function bucketsOption(option: string, value: unknown, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback]
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((bound, i) => typeof bound === "number" && bound > 0 && !(bound <= value[i - 1]))
  ) {
    throw invalidOption(option, "a non-empty array of increasing positive numbers", value)
  }
  return value
}

/**
 * The gate's figures as prom-client metrics, for `observers` in `scaleFromZero` options. Several
 * gates may share one registry: the metrics are registered once and shared.
 *
 * Requests for a service the backend has not reported are counted with empty `service` and
 * `namespace` labels, so random names add no series: the series are bounded by the services
 * the backend knows.
 */
export function prometheusMetrics(options: PrometheusMetricsOptions = {}): ScalingObserver {
  const registry = options.registry ?? register
  if (typeof registry?.registerMetric !== "function" || typeof registry.metrics !== "function") {
    throw invalidOption("registry", "a prom-client Registry", registry)
  }
  const coldStartBuckets = bucketsOption(
    "coldStartBucketsSeconds",
    options.coldStartBucketsSeconds,
    DEFAULT_COLD_START_BUCKETS_SECONDS,
  )
  const backendBuckets = bucketsOption(
    "backendBucketsSeconds",
    options.backendBucketsSeconds,
    DEFAULT_BACKEND_BUCKETS_SECONDS,
  )
  // The metric already registered under this name (another gate's), or a new one.
  const shared = <M extends Metric>(name: string, make: (name: string) => M): M =>
    (registry.getSingleMetric(METRIC_PREFIX + name) as M | undefined) ?? make(METRIC_PREFIX + name)
  const registers = [registry]

  const coldStarts = shared(
    "cold_start_seconds",
    (name) =>
      new Histogram({
        name,
        help: "Time a held request waited for its service, by outcome",
        labelNames: ["service", "namespace", "outcome"] as const,
        buckets: coldStartBuckets,
        registers,
      }),
  )
  const held = shared(
    "requests_held",
    (name) =>
      new Gauge({
        name,
        help: "Requests held now while their service wakes",
        labelNames: ["service", "namespace"] as const,
        registers,
      }),
  )
  const requests = shared(
    "requests_total",
    (name) =>
      new Counter({
        name,
        help: "Requests for a service, by what the gate did with them (pass, held, or the refusal status)",
        labelNames: ["service", "namespace", "verdict"] as const,
        registers,
      }),
  )
  const backendCalls = shared(
    "backend_calls_total",
    (name) =>
      new Counter({
        name,
        help: "Calls to the backend, by call and result",
        labelNames: ["call", "result"] as const,
        registers,
      }),
  )
  const backendDuration = shared(
    "backend_call_duration_seconds",
    (name) =>
      new Histogram({
        name,
        help: "Duration of calls to the backend, by call and result",
        labelNames: ["call", "result"] as const,
        buckets: backendBuckets,
        registers,
      }),
  )
  const scaleUps = shared(
    "scale_ups_total",
    (name) =>
      new Counter({
        name,
        help: "Scale-ups from zero asked of the backend",
        labelNames: ["service", "namespace"] as const,
        registers,
      }),
  )
  const scaleDowns = shared(
    "scale_downs_total",
    (name) =>
      new Counter({
        name,
        help: "Services scaled to zero (idle, or asked for)",
        labelNames: ["service", "namespace"] as const,
        registers,
      }),
  )

  // The warm path's counter, one child per service: no label object or hash per request.
  const passes = new Map<string, Map<string, { inc(): void }>>()
  const passCounter = (name: string, namespace: string) => {
    let names = passes.get(namespace)
    if (names === undefined) {
      names = new Map()
      passes.set(namespace, names)
    }
    let child = names.get(name)
    if (child === undefined) {
      child = requests.labels(name, namespace, "pass")
      names.set(name, child)
    }
    return child
  }
  const service = (name: string, namespace: string, known: boolean) =>
    known ? { service: name, namespace } : { service: "", namespace: "" }

  return {
    request(verdict, name, namespace, known) {
      if (verdict === "pass" && known) passCounter(name, namespace).inc()
      else requests.inc({ ...service(name, namespace, known), verdict })
    },
    holdStarted(hold) {
      held.inc(service(hold.name, hold.namespace, hold.known))
    },
    holdEnded(hold, outcome, durationMs, known) {
      held.dec(service(hold.name, hold.namespace, hold.known))
      coldStarts.observe(
        { ...service(hold.name, hold.namespace, known), outcome },
        durationMs / 1000,
      )
    },
    backendCall(call, result, durationMs) {
      backendCalls.inc({ call, result })
      backendDuration.observe({ call, result }, durationMs / 1000)
    },
    scaledUp(name, namespace) {
      scaleUps.inc({ service: name, namespace })
    },
    scaleDownEnded(name, namespace, scaled) {
      if (scaled) scaleDowns.inc({ service: name, namespace })
    },
  }
}

import { asError, deadline } from "./abortable.js"
import { BackendError } from "./errors.js"
import type { ScalingEventListener } from "./events.js"
import { serviceKey } from "./function-cache.js"
import type { FunctionScaler } from "./function-scaler.js"
import { LruMap } from "./lru.js"
import { invalidOption, numberOption } from "./options.js"
import type { ServiceQueryResponse } from "./types.js"

/**
 * Concurrency shared by several gateway instances in front of the same services: each
 * publishes its own count, the one instance holding the decision sums them all.
 * Implementation: `@scale-from-zero/redis`.
 */
export interface SharedConcurrency {
  /** Publishes this instance's held + in-flight count for the service, kept `ttlMs`. */
  publishConcurrency(name: string, namespace: string, count: number, ttlMs: number): Promise<void>
  /** The sum of the counts all instances published that have not expired. */
  totalConcurrency(name: string, namespace: string): Promise<number>
  /** Claims, or keeps, the right to set the service's replicas for `ttlMs`: one instance at a time. */
  claimScaleOut(name: string, namespace: string, ttlMs: number): Promise<boolean>
}

export interface ScaleOutOptions {
  /** Requests (held + in flight) one replica should carry: replicas = ceil(requests / this). */
  targetConcurrency: number
  /** Milliseconds between decisions; each moves replicas by at most one step. Default 2000. */
  intervalMs?: number
  /**
   * Milliseconds the desired count must stay below the replicas before a step in; then one
   * step per interval while it stays lower. Default 5 minutes.
   */
  scaleInAfterMs?: number
  /** Counts summed over the gateway instances, one deciding at a time (such as Redis's). */
  shared?: SharedConcurrency
}

/** A service's counts on this instance, as the gate's status reports them. */
export interface ServiceLoad {
  readonly name: string
  readonly namespace: string
  readonly held: number
  readonly inFlight: number | null
}

export interface ScaleOut {
  /** Starts the decision timer if it is not running; cheap to call on every request. */
  ensureRunning(): void
  /** Runs one round of decisions now; settles once its steps are made. */
  check(): Promise<void>
  close(): void
}

export const DEFAULT_SCALE_OUT_INTERVAL_MS = 2_000
export const DEFAULT_SCALE_IN_AFTER_MS = 5 * 60_000

interface Decision {
  /** When the desired count first fell below the replicas, and has stayed below since. */
  lowSince: number | undefined
  /** What this instance last published (shared only). */
  published: number
  busy: boolean
}

/**
 * The seed's step: ceil(maxReplicas × scalingFactor / 100) replicas; 0 (a factor of 0) turns
 * scaling off for the service, as in OpenFaaS.
 */
export function scaleStep(status: ServiceQueryResponse): number {
  return Math.ceil((status.maxReplicas * status.scalingFactor) / 100)
}

/** ceil(requests / target), within the service's min (at least 1) and max labels. */
export function desiredReplicas(
  requests: number,
  targetConcurrency: number,
  status: ServiceQueryResponse,
): number {
  const min = Math.max(status.minReplicas, 1)
  const max = Math.max(status.maxReplicas, min)
  return Math.min(max, Math.max(min, Math.ceil(requests / targetConcurrency)))
}

export function resolveScaleOutOptions(options: ScaleOutOptions) {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("scaleOut", "an object such as { targetConcurrency: 10 }", options)
  }
  if (options.targetConcurrency === undefined) {
    throw invalidOption("scaleOut.targetConcurrency", "a positive number", undefined)
  }
  const { shared } = options
  if (
    shared !== undefined &&
    (typeof shared?.publishConcurrency !== "function" ||
      typeof shared.totalConcurrency !== "function" ||
      typeof shared.claimScaleOut !== "function")
  ) {
    throw invalidOption("scaleOut.shared", "a SharedConcurrency (such as Redis's)", shared)
  }
  return {
    targetConcurrency: numberOption(
      "scaleOut.targetConcurrency",
      options.targetConcurrency,
      1,
      "positive",
    ),
    intervalMs: numberOption(
      "scaleOut.intervalMs",
      options.intervalMs,
      DEFAULT_SCALE_OUT_INTERVAL_MS,
      "positive",
    ),
    scaleInAfterMs: numberOption(
      "scaleOut.scaleInAfterMs",
      options.scaleInAfterMs,
      DEFAULT_SCALE_IN_AFTER_MS,
      "non-negative",
    ),
    shared,
  }
}

/**
 * Scales ready services between their min and max labels on concurrency (held + in flight),
 * one step per interval, as OpenFaaS's alert-driven scaling does on request rate. A service at
 * zero replicas is left to the wake, a scale to zero to idle scale-down.
 */
export function createScaleOut(
  scaler: FunctionScaler,
  loads: () => Iterable<ServiceLoad>,
  options: ScaleOutOptions,
  emit: ScalingEventListener,
): ScaleOut {
  const { targetConcurrency, intervalMs, scaleInAfterMs, shared } = resolveScaleOutOptions(options)
  // A published count outlives a few missed rounds, not an instance that is gone.
  const ttlMs = 3 * intervalMs
  // As many as the gate's status keeps services.
  const decisions = new LruMap<string, Decision>(10_000)
  let timer: ReturnType<typeof setInterval> | undefined
  let closed = false

  const setReplicas = async (name: string, namespace: string, count: number) => {
    const { serviceQuery, timeout } = scaler.config
    const due = deadline(
      timeout,
      undefined,
      () => new BackendError(`scaling ${serviceKey(name, namespace)} to ${count} gave no answer`),
    )
    try {
      await serviceQuery.setReplicas(name, namespace, count, { signal: due.signal })
    } finally {
      due.release()
    }
  }

  /** Whether the service is worth looking at: it has load, or replicas to give back. */
  const decide = async (load: ServiceLoad, decision: Decision, now: number) => {
    const { name, namespace } = load
    const local = load.held + (load.inFlight ?? 0)
    let requests = local
    if (shared !== undefined) {
      if (local !== 0 || decision.published !== 0) {
        await shared.publishConcurrency(name, namespace, local, ttlMs)
        decision.published = local
      }
      if (!(await shared.claimScaleOut(name, namespace, ttlMs))) {
        decision.lowSince = undefined
        return
      }
      requests = await shared.totalConcurrency(name, namespace)
    }
    const cached = scaler.peek(name, namespace)
    // At zero the wake (or nobody) decides; unknown services have nothing to step.
    if (cached === undefined || cached.replicas === 0) {
      decision.lowSince = undefined
      return
    }
    const wanted = desiredReplicas(requests, targetConcurrency, cached)
    if (wanted === cached.replicas) {
      decision.lowSince = undefined
      return
    }
    if (wanted < cached.replicas) {
      decision.lowSince ??= now
      if (now - decision.lowSince < scaleInAfterMs) return
    } else decision.lowSince = undefined
    // Stepped from the live count: replicas an operator set meanwhile are the base, not ours.
    const status = await scaler.read(name, namespace)
    const step = scaleStep(status)
    if (status.replicas === 0 || step === 0 || closed) return
    const target = desiredReplicas(requests, targetConcurrency, status)
    const next =
      target > status.replicas
        ? Math.min(status.replicas + step, target)
        : Math.max(status.replicas - step, target)
    if (next === status.replicas) return
    await setReplicas(name, namespace, next)
    emit({
      type: next > status.replicas ? "scale-out" : "scale-in",
      service: name,
      namespace,
      from: status.replicas,
      replicas: next,
      concurrency: requests,
    })
    // Read afresh next time: what was just set is not in the cache yet.
    scaler.refresh(name, namespace)
  }

  const check = () => {
    const now = Date.now()
    const rounds: Promise<void>[] = []
    for (const load of loads()) {
      const key = serviceKey(load.name, load.namespace)
      let decision = decisions.get(key)
      if (decision === undefined) {
        decision = { lowSince: undefined, published: 0, busy: false }
        decisions.set(key, decision)
      }
      if (decision.busy) continue
      const current = decision
      current.busy = true
      rounds.push(
        decide(load, current, now)
          .catch((error: unknown) =>
            emit({
              type: "error",
              service: load.name,
              namespace: load.namespace,
              error: asError(error),
            }),
          )
          .finally(() => {
            current.busy = false
          }),
      )
    }
    return rounds
  }

  return {
    ensureRunning() {
      if (timer !== undefined || closed) return
      timer = setInterval(check, intervalMs)
      ;(timer as { unref?: () => void }).unref?.()
    },
    async check() {
      await Promise.all(check())
    },
    close() {
      closed = true
      clearInterval(timer)
      timer = undefined
    },
  }
}

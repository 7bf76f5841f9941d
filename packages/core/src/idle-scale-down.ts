import { asError } from "./abortable.js"
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "./constants.js"
import { parseDuration } from "./duration.js"
import type { ScalingEventListener } from "./events.js"
import { serviceKey } from "./function-cache.js"
import type { FunctionScaler } from "./function-scaler.js"
import type { GatePass, InFlight } from "./gate.js"
import type { ServiceQueryResponse } from "./types.js"

export interface ScaleToZeroOptions {
  /** Idle time before a service is scaled to zero, unless its zero-duration label says otherwise. Default 15 minutes. */
  idleAfterMs?: number
  /** Scale every idle service to zero, not only those labelled `com.openfaas.scale.zero=true`. Default false. */
  allServices?: boolean
  /** Milliseconds between idle checks. Default: a quarter of idleAfterMs, between 100 ms and 30 s. */
  checkIntervalMs?: number
}

/** A service that opted in to idle scale-down: one per service, shared by all its requests. */
export interface ServiceActivity extends InFlight {
  inFlight: number
  lastActive: number
  readonly idleAfterMs: number
  /** The pass handed to this service's warm requests: no allocation per request. */
  readonly pass: GatePass
}

export interface IdleTracker {
  /** Counts one request in flight for an opted-in service; undefined for any other. */
  track(
    name: string,
    namespace: string,
    response: ServiceQueryResponse,
  ): ServiceActivity | undefined
  close(): void
}

export const DEFAULT_IDLE_AFTER_MS = 15 * 60_000

export function createIdleTracker(
  scaler: FunctionScaler,
  options: ScaleToZeroOptions,
  emit: ScalingEventListener,
): IdleTracker {
  const defaultIdleAfter = options.idleAfterMs ?? DEFAULT_IDLE_AFTER_MS
  if (!Number.isFinite(defaultIdleAfter) || defaultIdleAfter <= 0) {
    throw new RangeError(
      `scaleToZero.idleAfterMs must be a positive number, got ${defaultIdleAfter}`,
    )
  }
  const checkInterval =
    options.checkIntervalMs ?? Math.min(30_000, Math.max(100, Math.floor(defaultIdleAfter / 4)))
  const activities = new Map<string, ServiceActivity>()
  let timer: ReturnType<typeof setInterval> | undefined

  const optedIn = (response: ServiceQueryResponse) =>
    options.allServices === true || response.labels?.[ZERO_SCALE_LABEL]?.toLowerCase() === "true"

  const idleAfterFor = (response: ServiceQueryResponse) => {
    const label = response.labels?.[ZERO_DURATION_LABEL]
    return (label !== undefined && parseDuration(label)) || defaultIdleAfter
  }

  const check = () => {
    const now = Date.now()
    for (const [key, activity] of activities) {
      const { name, namespace } = activity
      if (activity.inFlight > 0 || now - activity.lastActive < activity.idleAfterMs) continue
      if (scaler.waiting(name, namespace) > 0) continue
      activities.delete(key)
      const idleMs = now - activity.lastActive
      scaler.scaleDown(name, namespace).then(
        (scaled) => {
          if (scaled) emit({ type: "scale-down", service: name, namespace, idleMs })
        },
        (error: unknown) =>
          emit({ type: "error", service: name, namespace, error: asError(error) }),
      )
    }
    if (activities.size === 0) stopTimer()
  }

  const stopTimer = () => {
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
  }

  const startTimer = () => {
    // Started on first use, inside a request: edge runtimes refuse timers at start-up.
    timer = setInterval(check, checkInterval)
    const handle = timer as { unref?: () => void }
    handle.unref?.() // never keep a Node process alive just to scale down
  }

  return {
    track(name, namespace, response) {
      const key = serviceKey(name, namespace)
      let activity = activities.get(key)
      if (activity === undefined) {
        if (!optedIn(response)) return undefined
        const created: ServiceActivity = {
          name,
          namespace,
          inFlight: 0,
          lastActive: Date.now(),
          idleAfterMs: idleAfterFor(response),
          finished() {
            created.inFlight--
            created.lastActive = Date.now()
          },
          get pass(): GatePass {
            return warmPass
          },
        }
        const warmPass: GatePass = Object.freeze({ kind: "pass", inFlight: created })
        activity = created
        activities.set(key, activity)
        if (timer === undefined) startTimer()
      }
      activity.inFlight++
      return activity
    },
    close: stopTimer,
  }
}

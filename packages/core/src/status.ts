import { serviceKey } from "./function-cache.js"
import type { FunctionScaler } from "./function-scaler.js"
import type { IdleTracker } from "./idle-scale-down.js"
import { LruMap } from "./lru.js"
import type { ScalingObserver } from "./observer.js"

/**
 * `ready`: a replica serves; `waking`: a wake is under way (or replicas are asked for but none
 * is ready); `cold`: scaled to zero; `scaling-down`: an idle scale-down is under way;
 * `missing`: the backend no longer knows the service.
 */
export type ServiceState = "ready" | "waking" | "cold" | "scaling-down" | "missing"

/** One service the gate knows, as `gate.status()` reports it. */
export interface ServiceStatus {
  readonly name: string
  readonly namespace: string
  readonly state: ServiceState
  /** Desired replicas as last seen; null when no status is cached. */
  readonly replicas: number | null
  /** Ready replicas as last seen; null when no status is cached. */
  readonly availableReplicas: number | null
  /** Requests held now, waiting for it. */
  readonly held: number
  /** Requests forwarded and not yet answered; null unless idle scale-down tracks it. */
  readonly inFlight: number | null
  /** Milliseconds the last request held while it woke waited; null before the first. */
  readonly lastColdStartMs: number | null
  /** Epoch milliseconds of the last request seen (held, or in flight when tracked). */
  readonly lastActivity: number | null
  /** Milliseconds until idle scale-down, once idle; null when it is not due (busy, or not opted in). */
  readonly idleScaleDownInMs: number | null
}

interface ServiceRecord {
  readonly name: string
  readonly namespace: string
  lastColdStartMs: number | null
  lastActivity: number | null
  scalingDown: boolean
  missing: boolean
  /** The backend has reported it; false while a first wait for an unreported one runs. */
  reported: boolean
}

/** Services kept for the status at most; the least recently seen go first. */
const MAX_RECORDS = 10_000

/**
 * What `gate.status()` needs beyond the scaler's cache, heard as an observer: every service the
 * backend has reported, its last cold start, its scale-downs. Nothing on the warm path.
 */
export function createStatusTracker() {
  const records = new LruMap<string, ServiceRecord>(MAX_RECORDS)
  const record = (name: string, namespace: string) => {
    const key = serviceKey(name, namespace)
    let found = records.get(key)
    if (found === undefined) {
      found = {
        name,
        namespace,
        lastColdStartMs: null,
        lastActivity: null,
        scalingDown: false,
        missing: false,
        reported: true,
      }
      records.set(key, found)
    }
    return found
  }
  const observer: ScalingObserver = {
    // Listed from its first held request on, so its held count shows (and reaches scalers).
    holdStarted({ name, namespace }) {
      if (records.peek(serviceKey(name, namespace)) === undefined) {
        record(name, namespace).reported = false
      }
    },
    holdEnded(hold, outcome, durationMs, known, coldStart) {
      const { name, namespace } = hold
      if (!known) {
        // Known once and now gone: shown as missing; never known: not shown at all.
        const key = serviceKey(name, namespace)
        const found = records.peek(key)
        // One client leaving does not end the others' wait: only an answer unlists it.
        if (found !== undefined && !found.reported) {
          if (outcome !== "aborted") records.delete(key)
        } else if (found !== undefined && outcome === "not-found") found.missing = true
        return
      }
      const found = record(name, namespace)
      found.reported = true
      found.missing = false
      found.lastActivity = Date.now()
      if (outcome === "ready" && coldStart) found.lastColdStartMs = durationMs
    },
    scaleDownStarted(name, namespace) {
      record(name, namespace).scalingDown = true
    },
    scaleDownEnded(name, namespace) {
      const found = records.peek(serviceKey(name, namespace))
      if (found !== undefined) found.scalingDown = false
    },
  }

  const has = (name: string, namespace: string) =>
    records.peek(serviceKey(name, namespace)) !== undefined

  const status = (scaler: FunctionScaler, idle: IdleTracker | undefined): ServiceStatus[] => {
    const now = Date.now()
    const list: ServiceStatus[] = []
    for (const found of records.values()) {
      const { name, namespace } = found
      const cached = scaler.peek(name, namespace)
      const held = scaler.waiting(name, namespace)
      const activity = idle?.peek(name, namespace)
      let state: ServiceState = "cold"
      if (found.missing) state = "missing"
      else if (found.scalingDown) state = "scaling-down"
      else if (cached !== undefined && cached.availableReplicas > 0) state = "ready"
      else if (held > 0 || (cached !== undefined && cached.replicas > 0)) state = "waking"
      const busy = activity !== undefined && activity.inFlight > 0
      const lastActivity = busy ? now : Math.max(activity?.lastActive ?? 0, found.lastActivity ?? 0)
      list.push({
        name,
        namespace,
        state,
        replicas: cached?.replicas ?? null,
        availableReplicas: cached?.availableReplicas ?? null,
        held,
        inFlight: activity?.inFlight ?? null,
        lastColdStartMs: found.lastColdStartMs,
        lastActivity: lastActivity === 0 ? null : lastActivity,
        idleScaleDownInMs:
          activity === undefined || !activity.scalesDown || busy || state !== "ready"
            ? null
            : Math.max(0, activity.lastActive + activity.idleAfterMs - now),
      })
    }
    return list.sort((a, b) =>
      a.namespace === b.namespace
        ? a.name.localeCompare(b.name)
        : a.namespace.localeCompare(b.namespace),
    )
  }

  /** Every service reported and not known to be gone. */
  function* known() {
    for (const found of records.values()) if (!found.missing) yield found
  }

  return { observer, has, status, known }
}

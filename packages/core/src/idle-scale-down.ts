import { asError } from "./abortable.js"
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "./constants.js"
import { parseDuration } from "./duration.js"
import { ERROR_CODES, hasErrorCode } from "./errors.js"
import type { ScalingEventListener } from "./events.js"
import type { FunctionScaler } from "./function-scaler.js"
import type { GatePass, InFlight, Traffic } from "./gate.js"
import { invalidOption, numberOption } from "./options.js"
import { ServiceMap } from "./service-map.js"
import type { SharedActivity } from "./shared-activity.js"
import type { Telemetry } from "./telemetry.js"
import type { ServiceQueryResponse } from "./types.js"

export interface ScaleToZeroOptions {
  /** Idle time before a service is scaled to zero, unless its zero-duration label says otherwise. Default 15 minutes. */
  idleAfterMs?: number
  /** Scale every idle service to zero, not only those labelled `com.openfaas.scale.zero=true`. Default false. */
  allServices?: boolean
  /** Milliseconds between idle checks. Default: a quarter of the shortest idle time, between 100 ms and 30 s. */
  checkIntervalMs?: number
  /**
   * A request or connection in flight (a WebSocket, an SSE stream, a slow response) with no
   * byte or frame in either direction for this long stops counting as activity, and counts
   * again with its next one. Unset (the default): an open connection keeps its service up
   * however quiet it is. WebSocket pings are frames: keep their interval above this.
   */
  connectionIdleMs?: number
  /**
   * Milliseconds the requests still in flight when a scale-down is decided get to finish
   * (new ones are held from that moment, and wake the service again afterwards). Default
   * 10 000.
   */
  drainMs?: number
  /**
   * Activity shared with the other gateway instances in front of the same services: a service
   * is scaled down only once it is idle on every instance, and by one instance only.
   */
  shared?: SharedActivity
}

/** A service whose requests are counted in flight: one per service, shared by all its requests. */
export interface ServiceActivity extends InFlight {
  inFlight: number
  /** Idle scale-down applies to it; false for one counted only for `scaleOut`. */
  readonly scalesDown: boolean
  lastActive: number
  readonly idleAfterMs: number
  /** The pass handed to this service's warm requests: no allocation per request. */
  readonly pass: GatePass
}

interface TrackedService extends ServiceActivity {
  /** The latest activity this instance told the other instances about. */
  lastShared: number
  /** A shared scale-down decision is under way. */
  deciding: boolean
  /** Called when inFlight drops to 0, while a scale-down drains the service. */
  drained: (() => void) | undefined
  /** Open connections watched for silence (only with connectionIdleMs). */
  readonly connections: Set<WatchedConnection>
}

interface WatchedConnection {
  readonly traffic: Traffic
  /** bytesRead + bytesWritten when last looked at. */
  seen: number
  /** When `seen` last changed. */
  quietSince: number
  /** Whether it counts in its service's inFlight now. */
  counted: boolean
}

export interface IdleTracker {
  /** Counts one request in flight for an opted-in service (any, with `countAll`); undefined for any other. */
  track(
    name: string,
    namespace: string,
    response: ServiceQueryResponse,
  ): ServiceActivity | undefined
  /** The service's activity, when it is tracked; changes nothing. */
  peek(name: string, namespace: string): ServiceActivity | undefined
  /**
   * Counts the service (when it is tracked) as active now, without a request in flight: a
   * service woken for another (a dependency) or by a schedule, which would otherwise never be
   * scaled down.
   */
  touch(name: string, namespace: string, response: ServiceQueryResponse): void
  /**
   * Settles once the service's requests in flight have finished, or after `drainMs`; at once
   * when none are. Unknown to the tracker, its requests were not counted: the
   * whole `drainMs` is given. The service stops being tracked: its next request starts anew.
   */
  drain(name: string, namespace: string, drainMs: number): Promise<void>
  /** Runs one idle check now; settles once every scale-down it decided has been made. */
  check(): Promise<void>
  close(): void
}

export const DEFAULT_IDLE_AFTER_MS = 15 * 60_000

const checkIntervalFor = (idleAfterMs: number) =>
  Math.min(30_000, Math.max(100, Math.floor(idleAfterMs / 4)))

/** Whether something other than requests keeps a service up now (a dependent, a keep-warm window). */
export type KeepsUp = (name: string, namespace: string, now: number) => boolean

export const DEFAULT_DRAIN_MS = 10_000

/** Waits for a service's counted requests to finish, `drainMs` at most. */
function drainActivity(service: TrackedService | undefined, drainMs: number): Promise<void> {
  if (service?.inFlight === 0) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      if (service !== undefined) service.drained = undefined
      resolve()
    }
    const timer = setTimeout(done, drainMs)
    if (service !== undefined) service.drained = done
  })
}

/**
 * `scaleToZero` undefined: no idle scale-down, only the counting (`countAll`, for scale-out and
 * `countInFlight`). `countAll`: count every service's requests in flight, not only those that
 * scale down.
 */
export function createIdleTracker(
  scaler: FunctionScaler,
  scaleToZero: ScaleToZeroOptions | undefined,
  emit: ScalingEventListener,
  telemetry: Telemetry,
  keepsUp?: KeepsUp,
  countAll = false,
): IdleTracker {
  const options = scaleToZero ?? {}
  const defaultIdleAfter = numberOption(
    "scaleToZero.idleAfterMs",
    options.idleAfterMs,
    DEFAULT_IDLE_AFTER_MS,
    "positive",
  )
  const connectionIdleMs =
    options.connectionIdleMs === undefined
      ? undefined
      : numberOption("scaleToZero.connectionIdleMs", options.connectionIdleMs, 0, "positive")
  const drainMs = numberOption(
    "scaleToZero.drainMs",
    options.drainMs,
    DEFAULT_DRAIN_MS,
    "non-negative",
  )
  const { shared } = options
  if (
    shared !== undefined &&
    (typeof shared?.lastActive !== "function" || typeof shared.claimScaleDown !== "function")
  ) {
    throw invalidOption("scaleToZero.shared", "a SharedActivity (such as Redis's)", shared)
  }
  // Without it, each service's interval follows from its idle time.
  const checkIntervalMs =
    options.checkIntervalMs === undefined
      ? undefined
      : numberOption("scaleToZero.checkIntervalMs", options.checkIntervalMs, 0, "positive")
  if (options.allServices !== undefined && typeof options.allServices !== "boolean") {
    throw invalidOption("scaleToZero.allServices", "a boolean", options.allServices)
  }
  const activities = new ServiceMap<TrackedService>()
  let timer: ReturnType<typeof setInterval> | undefined
  let timerInterval = Number.POSITIVE_INFINITY
  const recordedServices =
    scaleToZero !== undefined && typeof shared?.recordedServices === "function"
      ? shared.recordedServices.bind(shared)
      : undefined

  const optedIn = (response: ServiceQueryResponse) =>
    scaleToZero !== undefined &&
    (options.allServices === true || response.labels?.[ZERO_SCALE_LABEL]?.toLowerCase() === "true")

  const idleAfterFor = (response: ServiceQueryResponse) => {
    const label = response.labels?.[ZERO_DURATION_LABEL]
    return (label !== undefined && parseDuration(label)) || defaultIdleAfter
  }

  const reportError = (name: string, namespace: string) => (error: unknown) =>
    emit({ type: "error", service: name, namespace, error: asError(error) })

  const scaleDown = (service: TrackedService, now: number) => {
    const { name, namespace } = service
    const idleMs = now - service.lastActive
    return telemetry
      .scaleDown(name, namespace, idleMs, () =>
        scaler.scaleDown(name, namespace, { drain: () => drainActivity(service, drainMs) }),
      )
      .then(
        (scaled) => {
          if (scaled) emit({ type: "scale-down", service: name, namespace, idleMs })
        },
        reportError(name, namespace),
      )
  }

  const isIdle = (service: TrackedService, now: number) =>
    service.scalesDown &&
    service.inFlight === 0 &&
    now - service.lastActive >= service.idleAfterMs &&
    scaler.waiting(service.name, service.namespace) === 0

  /** Scales down only if no other instance used the service lately, and only one instance does. */
  const decideWithOthers = async (service: TrackedService, sharedActivity: SharedActivity) => {
    const { name, namespace } = service
    const elsewhere = await sharedActivity.lastActive(name, namespace)
    if (elsewhere !== undefined && elsewhere > service.lastActive) service.lastActive = elsewhere
    const now = Date.now()
    if (!isIdle(service, now)) return
    const claimTtl = Math.max(10_000, 2 * timerInterval)
    const claimed = await sharedActivity.claimScaleDown(name, namespace, claimTtl)
    if (activities.get(name, namespace) !== service || !isIdle(service, Date.now())) return
    activities.delete(name, namespace)
    if (claimed) await scaleDown(service, now)
    // Another instance is scaling it down: read the service afresh on its next request.
    else scaler.cache.delete(name, namespace)
  }

  /** A quiet connection stops counting (active since its last byte), a busy one counts again. */
  const watchConnections = (service: TrackedService, quietAfterMs: number, now: number) => {
    for (const connection of service.connections) {
      const seen = connection.traffic.bytesRead + connection.traffic.bytesWritten
      if (seen !== connection.seen) {
        connection.seen = seen
        connection.quietSince = now
        if (!connection.counted) {
          connection.counted = true
          service.inFlight++
        }
      } else if (connection.counted && now - connection.quietSince >= quietAfterMs) {
        connection.counted = false
        service.inFlight--
        if (service.inFlight === 0) service.drained?.()
        service.lastActive = Math.max(service.lastActive, connection.quietSince)
      }
    }
  }

  /** Tells the other instances the service was active at `latest`, unless they know already. */
  const share = (service: TrackedService, sharedActivity: SharedActivity, latest: number) => {
    if (latest <= service.lastShared) return
    const { name, namespace } = service
    const previous = service.lastShared
    service.lastShared = latest
    sharedActivity.record(name, namespace, latest).catch((error: unknown) => {
      // Not shared after all: send it again next time.
      if (service.lastShared === latest) service.lastShared = previous
      reportError(name, namespace)(error)
    })
  }

  /** Checks one service; adds the scale-down it decides on, if any, to `decisions`. */
  const checkService = (service: TrackedService, now: number, decisions: Promise<unknown>[]) => {
    if (!service.scalesDown) return
    const { name, namespace } = service
    if (keepsUp?.(name, namespace, now)) service.lastActive = now
    if (connectionIdleMs !== undefined) watchConnections(service, connectionIdleMs, now)
    // Requests in flight are activity now; tell the others at most once per check.
    if (shared !== undefined)
      share(service, shared, service.inFlight > 0 ? now : service.lastActive)
    if (service.deciding || !isIdle(service, now)) return
    if (shared === undefined) {
      activities.delete(name, namespace)
      decisions.push(scaleDown(service, now))
      return
    }
    service.deciding = true
    decisions.push(
      decideWithOthers(service, shared)
        .catch(reportError(name, namespace))
        .finally(() => {
          service.deciding = false
        }),
    )
  }

  /**
   * Takes on the services other instances recorded and this one does not track (it never
   * served them, or it started since), and checks each like its own: idle since the others'
   * last record, it is scaled down here.
   */
  const adoptRecorded = async (
    list: NonNullable<SharedActivity["recordedServices"]>,
  ): Promise<void> => {
    const decisions: Promise<unknown>[] = []
    const adopt = async ({ name, namespace }: { name: string; namespace: string }) => {
      if (activities.has(name, namespace)) return
      let status: ServiceQueryResponse
      try {
        status = await scaler.read(name, namespace)
      } catch (error) {
        // A service deleted since it was recorded has nothing to scale down.
        if (!hasErrorCode(error, ERROR_CODES.serviceNotFound)) reportError(name, namespace)(error)
        return
      }
      if (status.replicas === 0 || activities.has(name, namespace)) return
      const service = activityOf(name, namespace, status)
      if (service === undefined) return
      // Active when the others last said so (decideWithOthers reads it), not since now.
      service.lastActive = 0
      checkService(service, Date.now(), decisions)
    }
    try {
      await Promise.all((await list()).map(adopt))
    } catch (error) {
      emit({ type: "error", service: "", namespace: "", error: asError(error) })
    }
    await Promise.all(decisions)
  }

  /** Returns what it started, for check() to await; the timer ignores it (errors are reported). */
  const check = () => {
    const now = Date.now()
    const decisions: Promise<unknown>[] = []
    for (const service of activities.values()) checkService(service, now, decisions)
    if (recordedServices !== undefined) decisions.push(adoptRecorded(recordedServices))
    else if (activities.size === 0) stopTimer()
    return decisions
  }

  const stopTimer = () => {
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
    timerInterval = Number.POSITIVE_INFINITY
  }

  /** Checks often enough for the service idling soonest; started inside a request, as edge runtimes want. */
  const ensureTimer = (idleAfterMs: number) => {
    const interval = checkIntervalMs ?? checkIntervalFor(idleAfterMs)
    if (timer !== undefined && interval >= timerInterval) return
    if (timer !== undefined) clearInterval(timer)
    timer = setInterval(check, interval)
    timerInterval = interval
    const handle = timer as { unref?: () => void }
    handle.unref?.() // never keep a Node process alive just to scale down
  }

  const activityOf = (name: string, namespace: string, response: ServiceQueryResponse) => {
    let activity = activities.get(name, namespace)
    if (activity === undefined) {
      const scalesDown = optedIn(response)
      if (!scalesDown && !countAll) return undefined
      const created: TrackedService = {
        name,
        namespace,
        scalesDown,
        inFlight: 0,
        lastActive: Date.now(),
        lastShared: 0,
        deciding: false,
        idleAfterMs: idleAfterFor(response),
        connections: new Set(),
        drained: undefined,
        finished: () => {
          created.inFlight--
          created.lastActive = Date.now()
          if (created.inFlight === 0) created.drained?.()
        },
        watchesTraffic: connectionIdleMs !== undefined,
        open(traffic) {
          if (connectionIdleMs === undefined) {
            let open = true
            return () => {
              if (open) created.finished()
              open = false
            }
          }
          const connection: WatchedConnection = {
            traffic,
            seen: traffic.bytesRead + traffic.bytesWritten,
            quietSince: Date.now(),
            counted: true,
          }
          created.connections.add(connection)
          return () => {
            if (!created.connections.delete(connection)) return
            if (connection.counted) created.finished()
          }
        },
        get pass(): GatePass {
          return warmPass
        },
      }
      const warmPass: GatePass = Object.freeze({ kind: "pass", inFlight: created })
      activity = created
      activities.set(name, namespace, activity)
      if (scalesDown) {
        ensureTimer(Math.min(created.idleAfterMs, connectionIdleMs ?? Number.POSITIVE_INFINITY))
      }
    }
    return activity
  }

  if (recordedServices !== undefined) {
    // Checks from the start, for the services the others recorded, before this instance
    // serves anything. Workers allow no timer outside a request: the scheduled handler checks.
    try {
      ensureTimer(defaultIdleAfter)
    } catch {}
  }

  return {
    track(name, namespace, response) {
      const activity = activityOf(name, namespace, response)
      if (activity === undefined) return undefined
      activity.inFlight++
      // Also told from the request, at most once per check interval: where timers die with
      // their request (Workers), an isolate may be gone before its next check.
      if (shared !== undefined && activity.scalesDown) {
        const now = Date.now()
        if (
          now - activity.lastShared >=
          (checkIntervalMs ?? checkIntervalFor(activity.idleAfterMs))
        ) {
          share(activity, shared, now)
        }
      }
      return activity
    },
    touch(name, namespace, response) {
      const activity = activityOf(name, namespace, response)
      if (activity !== undefined) activity.lastActive = Date.now()
    },
    drain(name, namespace, ms) {
      const activity = activities.get(name, namespace)
      activities.delete(name, namespace)
      return drainActivity(activity, ms)
    },
    peek: (name, namespace) => activities.get(name, namespace),
    async check() {
      await Promise.all(check())
    },
    close: stopTimer,
  }
}

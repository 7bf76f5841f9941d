// The state every middleware over one gate shares (`scaleFromZero({ gate, ...policy })`): the
// scaler, idle tracking, scale-out, telemetry, dependencies and keep-warm windows.
import { DEFAULT_NAMESPACE } from "./constants.js"
import { createDependencyGraph } from "./dependencies.js"
import type { ScalingEventListener } from "./events.js"
import {
  createFunctionScaler,
  type FunctionScaleResult,
  type FunctionScaler,
} from "./function-scaler.js"
import type { ScaleFromZeroOptions, SleepOptions } from "./gate-types.js"
import { createIdleTracker, DEFAULT_DRAIN_MS, type IdleTracker } from "./idle-scale-down.js"
import { createKeepWarm } from "./keep-warm.js"
import { checkNamespace, checkTarget } from "./names.js"
import { invalidOption, numberOption } from "./options.js"
import { createScaleOut, type ScaleOut } from "./scale-out.js"
import type { StartHistory } from "./start-history.js"
import { createStatusTracker } from "./status.js"
import { createTelemetry, type Telemetry } from "./telemetry.js"

/** What every middleware over one gate shares: wakes, the status cache, counts, idle tracking. */
export interface SharedState {
  readonly scaler: FunctionScaler
  readonly idle: IdleTracker | undefined
  readonly scaleOut: ScaleOut | undefined
  readonly telemetry: Telemetry
  readonly tracker: ReturnType<typeof createStatusTracker>
  readonly starts: StartHistory
  readonly emit: ScalingEventListener
  readonly defaultNamespace: string
  wake(name: string, namespace: string): Promise<FunctionScaleResult>
  sleep(name: string, namespace: string, options: SleepOptions | undefined): Promise<boolean>
  checkIdle(): Promise<void>
  close(): void
}

export function namespaceOption(value: unknown): string {
  if (typeof value !== "string" || checkNamespace(value) !== undefined) {
    throw invalidOption("defaultNamespace", "a valid namespace name", value)
  }
  return value
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export function createShared(options: ScaleFromZeroOptions): SharedState {
  const defaultNamespace = namespaceOption(
    options.defaultNamespace ?? options.serviceQuery?.defaultNamespace ?? DEFAULT_NAMESPACE,
  )
  if (
    options.scaleToZero !== undefined &&
    (typeof options.scaleToZero !== "object" || options.scaleToZero === null)
  ) {
    throw invalidOption("scaleToZero", "an object", options.scaleToZero)
  }
  // The scaler checks the options it shares with the gate (serviceQuery, timeouts, onEvent).
  const emit = options.onEvent ?? (() => {})
  const tracker = createStatusTracker()
  const telemetry = createTelemetry([tracker.observer, ...(options.observers ?? [])])
  let idle: IdleTracker | undefined
  /** A service woken for another or on schedule counts as active: idle rules start now. */
  const touch = (name: string, namespace: string) => {
    const status = scaler.peek(name, namespace)
    if (idle !== undefined && status !== undefined) idle.touch(name, namespace, status)
  }
  const graph = createDependencyGraph(options.dependencies, defaultNamespace, () => scaler, touch)
  const scaler = createFunctionScaler(options, undefined, telemetry, graph.prerequisites)
  let keepWarm: ReturnType<typeof createKeepWarm>
  if (options.countInFlight !== undefined && typeof options.countInFlight !== "boolean") {
    throw invalidOption("countInFlight", "a boolean", options.countInFlight)
  }
  // Scale-out needs every service's requests counted in flight: the idle tracker counts them.
  const countAll = options.scaleOut !== undefined || options.countInFlight === true
  idle =
    options.scaleToZero || countAll
      ? createIdleTracker(
          scaler,
          options.scaleToZero,
          emit,
          telemetry,
          (name, namespace, now) =>
            graph.dependentsUp(name, namespace) || keepWarm?.covers(name, namespace, now) === true,
          countAll,
        )
      : undefined
  const scaleOut =
    options.scaleOut === undefined
      ? undefined
      : createScaleOut(scaler, () => tracker.status(scaler, idle), options.scaleOut, emit)
  const wake = async (name: string, namespace: string) => {
    const result = await scaler.scale(name, namespace)
    if (result.outcome === "ready") touch(name, namespace)
    return result
  }
  keepWarm = createKeepWarm(
    options.keepWarm,
    defaultNamespace,
    (name, namespace) => void wake(name, namespace),
    () => tracker.known(),
  )
  return {
    scaler,
    idle,
    scaleOut,
    telemetry,
    tracker,
    // Each service's recent cold starts: the waiting page's estimate, the scaler's poll schedule.
    starts: scaler.starts,
    emit,
    defaultNamespace,
    wake,
    sleep(name, namespace, sleepOptions = {}) {
      try {
        if (typeof sleepOptions !== "object" || sleepOptions === null) {
          throw invalidOption("options", "an object such as { drainMs }", sleepOptions)
        }
        const drainMs = numberOption(
          "drainMs",
          sleepOptions.drainMs,
          DEFAULT_DRAIN_MS,
          "non-negative",
        )
        const invalid = checkTarget(name, namespace)
        if (invalid !== undefined) throw invalid
        // Uncounted requests (no idle scale-down for this service): only a drainMs asked
        // for is waited out, since nothing tells when they are done.
        const counted = idle?.peek(name, namespace) !== undefined
        const drain = () =>
          counted
            ? idle!.drain(name, namespace, drainMs)
            : delay(sleepOptions.drainMs === undefined ? 0 : drainMs)
        return telemetry.scaleDown(name, namespace, undefined, () =>
          scaler.scaleDown(name, namespace, { drain }),
        )
      } catch (error) {
        return Promise.reject(error)
      }
    },
    async checkIdle() {
      keepWarm?.check(Date.now())
      await idle?.check()
    },
    close() {
      keepWarm?.close()
      scaleOut?.close()
      idle?.close()
      scaler.close()
    },
  }
}

import type { ChildProcess } from "node:child_process"
import type { ResolvedDefinition } from "./definition.js"
import type { ProcessEvent, ProcessExit, ReplicaState } from "./options.js"
import type { PortPool } from "./ports.js"

/** One child process of a service, from spawn until it and its process group are gone. */
export interface Replica {
  readonly service: Service
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly url: string
  readonly startedAt: number
  state: ReplicaState
  readyAt: number | undefined
  failedProbes: number
  /** Ends the probe loop and any check in flight. */
  readonly probes: AbortController
  probeTimer: ReturnType<typeof setTimeout> | undefined
  startupTimer: ReturnType<typeof setTimeout> | undefined
  killTimer: ReturnType<typeof setTimeout> | undefined
  /** When SIGKILL replaces the grace of a SIGTERM sent to this replica. */
  stopDeadline: number
  /** Resolves once the replica, its process group and its port are released. */
  readonly gone: Promise<void>
}

/** One service: its desired count, its processes and its crash record. */
export interface Service {
  readonly name: string
  readonly definition: ResolvedDefinition
  desired: number
  /** Replicas whose process has not exited yet, stopping ones included. */
  readonly replicas: Replica[]
  crashes: number
  failures: number
  backoffUntil: number
  restartTimer: ReturnType<typeof setTimeout> | undefined
  lastExit: ProcessExit | undefined
  lastError: Error | undefined
  /** The reconcile pass in progress; `dirty` asks it for one more pass. */
  reconciling: Promise<void> | undefined
  dirty: boolean
  /** Waiting for one of its ports to be released by a replica of this query. */
  waitingForPort: boolean
  /** Taken out by removeService: nothing is started for it any more. */
  removed: boolean
  nextEndpoint: number
}

/** Restart delays: `initialMs`, doubling per failure in a row, at most `maxMs`. */
export interface RestartPolicy {
  readonly initialMs: number
  readonly maxMs: number
  /** A replica ready this long starts the count of failures over. */
  readonly resetAfterMs: number
}

/**
 * What the parts of one query share. The parts call each other through it (reconcile starts
 * replicas, an exiting replica asks for a reconcile), so no module imports the one that
 * imports it.
 */
export interface Runtime {
  readonly namespace: string
  readonly host: string
  readonly restart: RestartPolicy
  readonly ports: PortPool
  /** Every replica not yet gone, across services: what close() and killNow() reach. */
  readonly live: Set<Replica>
  /** close() was called: nothing is started any more. */
  readonly closing: boolean
  emit(event: ProcessEvent): void
  /** The service's desired or ready replicas may have changed: a hint for the watchers. */
  changed(service: Service): void
  reconcile(service: Service): Promise<void>
}

/** No replica is started for the service any more. */
export const retired = (runtime: Runtime, service: Service): boolean =>
  runtime.closing || service.removed

/** The fields every replica event carries. */
export const replicaEvent = (runtime: Runtime, replica: Replica) => ({
  service: replica.service.name,
  namespace: runtime.namespace,
  pid: replica.pid,
  port: replica.port,
})

/** Counts a crash or failed start and backs the next start off exponentially. */
export function recordFailure(runtime: Runtime, service: Service): void {
  service.failures++
  const { initialMs, maxMs } = runtime.restart
  const delayMs = Math.min(initialMs * 2 ** (service.failures - 1), maxMs)
  service.backoffUntil = Date.now() + delayMs
  const { name, failures } = service
  runtime.emit({ type: "backoff", service: name, namespace: runtime.namespace, failures, delayMs })
}

/** A replica could not be started: reported, remembered in status(), and backed off. */
export function startFailed(runtime: Runtime, service: Service, error: Error): void {
  service.lastError = error
  runtime.emit({ type: "error", service: service.name, namespace: runtime.namespace, error })
  recordFailure(runtime, service)
}

import type {
  ProviderServiceQuery,
  ServiceQueryResponse,
  WatchErrorContext,
  WatchOptions,
} from "@scale-from-zero/core/provider"

/** How a replica is checked for readiness. */
export interface ReadinessProbe {
  /** GET this path and require a 2xx answer. Without it, an accepted TCP connection is enough. */
  httpPath?: string
  /** Milliseconds between checks while a replica starts. Default 50. */
  intervalMs?: number
  /** Milliseconds between checks once it is ready. Default 1000. */
  readyIntervalMs?: number
  /** Milliseconds one check may take before it counts as failed. Default 1000. */
  timeoutMs?: number
  /** Failed checks in a row that take a ready replica out of availableReplicas. Default 3. */
  failureThreshold?: number
}

/** Ports a service's replicas listen on, `from` to `to` inclusive: one replica per port. */
export interface PortRange {
  from: number
  to: number
}

export interface ProcessServiceDefinition {
  /** The executable, looked up on PATH: `"node"`, `"python3"`, `"./bin/server"`. */
  command: string
  /** Its arguments, passed as they are (no shell). Default none. */
  args?: readonly string[]
  /** Added to the child's environment (after the gateway's own, unless `inheritEnv` is false). */
  env?: Record<string, string>
  /** Pass the gateway's environment on to the child. Default true. */
  inheritEnv?: boolean
  /** Working directory of the child. Default: the gateway's. */
  cwd?: string
  /**
   * The port, or range of ports, replicas listen on; each replica gets a free one through
   * `portEnv`. Default: any free port the operating system picks.
   */
  port?: number | PortRange
  /** Environment variable that carries the replica's port. Default `PORT`. */
  portEnv?: string
  /** How a replica shows it is ready (`httpPath` answering 2xx, else an accepted TCP connection) and how often it is checked. */
  readiness?: ReadinessProbe
  /** Milliseconds a replica may take to pass its probe before it is killed and restarted. */
  startupTimeoutMs?: number
  /** Milliseconds between SIGTERM and SIGKILL when a replica is stopped. */
  stopGracePeriodMs?: number
  /** Replicas to start at once. Default 0: the service starts scaled to zero. */
  replicas?: number
  /**
   * Reported by getReplicas: `com.openfaas.scale.min`, `.max` and `.factor` set
   * minReplicas, maxReplicas and scalingFactor; `com.openfaas.scale.zero` and
   * `.zero-duration` opt the service in to idle scale-down.
   */
  labels?: Record<string, string>
  /** Reported by getReplicas as the service's annotations; not read by the gate. */
  annotations?: Record<string, string>
  /** Where the child's stdout and stderr go. Default: the query's `stdio`. */
  stdio?: "inherit" | "ignore"
}

/** Restart delays after a replica crashes or fails to start: initialMs, doubling up to maxMs. */
export interface RestartBackoff {
  /** Default 100. */
  initialMs?: number
  /** Default 10 000. */
  maxMs?: number
  /** A crash of a replica that had been ready this long starts the delays over. Default 10 000. */
  resetAfterMs?: number
}

export interface ProcessServiceQueryOptions {
  /** Services by name; more can be added with `addService`. */
  services?: Record<string, ProcessServiceDefinition>
  /** The namespace every service is in (the gate's default namespace too). Default `default`. */
  namespace?: string
  /** Address replicas are probed and reached at. Default `127.0.0.1`. */
  host?: string
  /** Default 30 000. */
  startupTimeoutMs?: number
  /** Default 5000. */
  stopGracePeriodMs?: number
  /** How long to wait before replacing a replica that crashed or failed to start, growing with each failure in a row. */
  restartBackoff?: RestartBackoff
  /** Default `inherit`. */
  stdio?: "inherit" | "ignore"
  /** Told of every start, readiness change, exit, crash and restart as it happens. */
  onEvent?: (event: ProcessEvent) => void
  /**
   * Hears what a watch could not deliver: a watcher's `onChange` that threw (also an `error`
   * event) or a status that could not be read (a removed service; its watchers get `onError`).
   */
  onWatchError?: (error: Error, context: WatchErrorContext) => void
}

interface ReplicaEventBase {
  service: string
  namespace: string
  pid: number
  port: number
}

/** What happens to a service's processes, as it happens. */
export type ProcessEvent =
  | ({ type: "spawn" } & ReplicaEventBase)
  | ({ type: "ready"; startupMs: number } & ReplicaEventBase)
  /** A ready replica failed `failureThreshold` probes in a row. */
  | ({ type: "unready" } & ReplicaEventBase)
  | ({ type: "startup-timeout"; timeoutMs: number } & ReplicaEventBase)
  | ({ type: "stop" } & ReplicaEventBase)
  /** The replica outlived its grace period after SIGTERM and was sent SIGKILL. */
  | ({ type: "kill"; gracePeriodMs: number } & ReplicaEventBase)
  /** `crashed` is true when the replica exited without being asked to. */
  | ({
      type: "exit"
      code: number | null
      signal: NodeJS.Signals | null
      crashed: boolean
    } & ReplicaEventBase)
  /** After `failures` crashes or failed starts in a row, no start before `delayMs` has passed. */
  | { type: "backoff"; service: string; namespace: string; failures: number; delayMs: number }
  /** A replica could not be started (command not found, no free port) or a watcher threw. */
  | { type: "error"; service: string; namespace: string; error: Error }

export type ReplicaState = "starting" | "ready" | "unready" | "stopping"

export interface ReplicaStatus {
  pid: number
  port: number
  /** `http://HOST:PORT` */
  url: string
  state: ReplicaState
  startedAt: number
  readyAt?: number
}

export interface ProcessExit {
  pid: number
  code: number | null
  signal: NodeJS.Signals | null
  crashed: boolean
  at: number
}

/** Everything the query knows about one service's processes. */
export interface ProcessServiceStatus {
  name: string
  namespace: string
  /** Desired replicas. */
  replicas: number
  availableReplicas: number
  processes: ReplicaStatus[]
  /** Replicas that exited without being asked to, since the query was created. */
  crashes: number
  /** Crashes and failed starts in a row; 0 once a replica stays ready for `resetAfterMs`. */
  consecutiveFailures: number
  /** No replica is started before this time (epoch ms) while backing off. */
  backoffUntil?: number
  lastExit?: ProcessExit
  lastError?: Error
}

/** A ServiceQuery whose replicas are child processes of this one. */
export interface ProcessServiceQuery extends ProviderServiceQuery {
  /** The namespace every service is in (`namespace`), so the gate uses it by default. */
  readonly defaultNamespace: string
  watch(
    service: string,
    namespace: string,
    onChange: (response: ServiceQueryResponse) => void,
    options?: WatchOptions,
  ): void
  /** The URL of a ready replica (round robin), or undefined when none is ready. */
  endpoint(service: string, namespace?: string): string | undefined
  /** The URLs of every ready replica. */
  endpoints(service: string, namespace?: string): string[]
  /** Processes, crashes and back-off of one service. */
  status(service: string, namespace?: string): ProcessServiceStatus
  /** The services this query runs, by name. */
  readonly services: readonly string[]
  /** Adds a service (scaled to `definition.replicas`, default 0). */
  addService(name: string, definition: ProcessServiceDefinition): void
  /**
   * Stops a service's replicas and forgets it (its watchers hear not-found through `onError`);
   * resolves once they are gone.
   */
  removeService(name: string, namespace?: string): Promise<void>
  readonly namespace: string
  /**
   * Ends every watch, stops every replica (SIGTERM, then SIGKILL after the grace period) and
   * removes the process hooks; resolves once every child and its process group are gone.
   */
  close(): Promise<void>
}

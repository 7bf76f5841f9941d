import { type ChildProcess, spawn } from "node:child_process"
import {
  asError,
  checkNamespace,
  checkServiceName,
  DEFAULT_MAX_REPLICAS,
  DEFAULT_MIN_REPLICAS,
  DEFAULT_NAMESPACE,
  DEFAULT_SCALING_FACTOR,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  type QueryOptions,
  SCALING_FACTOR_LABEL,
  ServiceNotFoundError,
  type ServiceQuery,
  type ServiceQueryResponse,
} from "@scale-from-zero/core"
import type {
  ProcessEvent,
  ProcessExit,
  ProcessServiceDefinition,
  ProcessServiceQueryOptions,
  ProcessServiceStatus,
  ReplicaState,
} from "./options.js"
import { ephemeralPort, isPortFree } from "./ports.js"
import { probe } from "./probe.js"
import { groupAlive, signalGroup, USE_PROCESS_GROUPS } from "./process-group.js"
import {
  registerForShutdown,
  type ShutdownParticipant,
  unregisterFromShutdown,
} from "./shutdown.js"

export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_PORT_ENV = "PORT"
export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000
export const DEFAULT_STOP_GRACE_PERIOD_MS = 5000
export const DEFAULT_PROBE_INTERVAL_MS = 50
export const DEFAULT_READY_PROBE_INTERVAL_MS = 1000
export const DEFAULT_PROBE_TIMEOUT_MS = 1000
export const DEFAULT_PROBE_FAILURE_THRESHOLD = 3
export const DEFAULT_RESTART_INITIAL_MS = 100
export const DEFAULT_RESTART_MAX_MS = 10_000
export const DEFAULT_RESTART_RESET_AFTER_MS = 10_000

/** How often a stopping replica's process group is checked for leftovers. */
const GROUP_POLL_MS = 20
/** Tries at an OS-assigned port not already taken by a replica that is starting. */
const EPHEMERAL_PORT_ATTEMPTS = 10

/** A ServiceQuery whose replicas are child processes of this one. */
export interface ProcessServiceQuery extends ServiceQuery {
  watch(
    service: string,
    namespace: string,
    onChange: (response: ServiceQueryResponse) => void,
    options?: QueryOptions,
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
  /** Stops a service's replicas and forgets it; resolves once they are gone. */
  removeService(name: string): Promise<void>
  readonly namespace: string
  /**
   * Stops every replica (SIGTERM, then SIGKILL after the grace period) and removes the
   * process hooks; resolves once every child and its process group are gone.
   */
  close(): Promise<void>
}

interface ResolvedDefinition {
  readonly command: string
  readonly args: readonly string[]
  readonly env: Record<string, string | undefined>
  readonly cwd: string | undefined
  /** Inclusive port range, or undefined for an OS-assigned port. */
  readonly ports: { readonly from: number; readonly to: number } | undefined
  readonly portEnv: string
  readonly httpPath: string | undefined
  readonly probeIntervalMs: number
  readonly readyProbeIntervalMs: number
  readonly probeTimeoutMs: number
  readonly failureThreshold: number
  readonly startupTimeoutMs: number
  readonly stopGracePeriodMs: number
  readonly stdio: "inherit" | "ignore"
  readonly minReplicas: number
  readonly maxReplicas: number
  readonly scalingFactor: number
  readonly labels: Record<string, string> | undefined
  readonly annotations: Record<string, string> | undefined
  /** Replicas the ports allow at once. */
  readonly capacity: number
}

interface Replica {
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
  gone: Promise<void>
}

interface Service {
  readonly name: string
  readonly definition: ResolvedDefinition
  desired: number
  /** Replicas whose process has not exited yet, stopping ones included. */
  readonly replicas: Replica[]
  readonly watchers: Set<(response: ServiceQueryResponse) => void>
  lastNotified: { replicas: number; available: number }
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

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive number, got ${value}`)
  }
  return value
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65_535
}

function scaleLabel(
  labels: Record<string, string> | undefined,
  label: string,
  fallback: number,
  where: string,
): number {
  const value = labels?.[label]
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) {
    throw new RangeError(`${where}: label ${label} must be a whole number, got ${value}`)
  }
  return Number(value)
}

function resolveDefinition(
  name: string,
  definition: ProcessServiceDefinition,
  options: ProcessServiceQueryOptions,
): ResolvedDefinition {
  const where = `service ${name}`
  if (typeof definition?.command !== "string" || definition.command.length === 0) {
    throw new TypeError(`${where}: command must be a non-empty string`)
  }
  let ports: ResolvedDefinition["ports"]
  const { port } = definition
  if (typeof port === "number") {
    if (!isPort(port)) throw new RangeError(`${where}: port must be 1-65535, got ${port}`)
    ports = { from: port, to: port }
  } else if (port !== undefined) {
    if (!isPort(port.from) || !isPort(port.to) || port.from > port.to) {
      throw new RangeError(
        `${where}: port range must be two ports 1-65535 with from <= to, got ${port.from}-${port.to}`,
      )
    }
    ports = { from: port.from, to: port.to }
  }
  const readiness = definition.readiness ?? {}
  if (readiness.httpPath !== undefined && !readiness.httpPath.startsWith("/")) {
    throw new TypeError(`${where}: readiness.httpPath must start with "/"`)
  }
  const failureThreshold = positive(
    readiness.failureThreshold,
    DEFAULT_PROBE_FAILURE_THRESHOLD,
    `${where}: readiness.failureThreshold`,
  )
  if (!Number.isInteger(failureThreshold)) {
    throw new RangeError(`${where}: readiness.failureThreshold must be a whole number`)
  }
  const labels = definition.labels && { ...definition.labels }
  const resolved: ResolvedDefinition = {
    command: definition.command,
    args: [...(definition.args ?? [])],
    env: {
      ...(definition.inheritEnv === false ? {} : process.env),
      ...definition.env,
    },
    cwd: definition.cwd,
    ports,
    portEnv: definition.portEnv ?? DEFAULT_PORT_ENV,
    httpPath: readiness.httpPath,
    probeIntervalMs: positive(
      readiness.intervalMs,
      DEFAULT_PROBE_INTERVAL_MS,
      `${where}: readiness.intervalMs`,
    ),
    readyProbeIntervalMs: positive(
      readiness.readyIntervalMs,
      DEFAULT_READY_PROBE_INTERVAL_MS,
      `${where}: readiness.readyIntervalMs`,
    ),
    probeTimeoutMs: positive(
      readiness.timeoutMs,
      DEFAULT_PROBE_TIMEOUT_MS,
      `${where}: readiness.timeoutMs`,
    ),
    failureThreshold,
    startupTimeoutMs: positive(
      definition.startupTimeoutMs ?? options.startupTimeoutMs,
      DEFAULT_STARTUP_TIMEOUT_MS,
      `${where}: startupTimeoutMs`,
    ),
    stopGracePeriodMs: positive(
      definition.stopGracePeriodMs ?? options.stopGracePeriodMs,
      DEFAULT_STOP_GRACE_PERIOD_MS,
      `${where}: stopGracePeriodMs`,
    ),
    stdio: definition.stdio ?? options.stdio ?? "inherit",
    minReplicas: scaleLabel(labels, MIN_SCALE_LABEL, DEFAULT_MIN_REPLICAS, where),
    maxReplicas: scaleLabel(labels, MAX_SCALE_LABEL, DEFAULT_MAX_REPLICAS, where),
    scalingFactor: scaleLabel(labels, SCALING_FACTOR_LABEL, DEFAULT_SCALING_FACTOR, where),
    labels,
    annotations: definition.annotations && { ...definition.annotations },
    capacity: ports === undefined ? Number.POSITIVE_INFINITY : ports.to - ports.from + 1,
  }
  return resolved
}

function checkReplicaCount(name: string, count: number, definition: ResolvedDefinition) {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`invalid replica count ${count} for ${name}: a whole number >= 0`)
  }
  if (count > definition.capacity) {
    const { from, to } = definition.ports!
    throw new RangeError(
      `${name} cannot run ${count} replicas: its ports ${from}-${to} allow ${definition.capacity}`,
    )
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs each service as local child processes: `setReplicas` starts or stops processes,
 * `availableReplicas` counts those whose readiness probe passes, and `watch` pushes
 * every change. Crashed replicas are replaced, with an exponential back-off; no child
 * outlives the gateway (exit, uncaught error, SIGINT, SIGTERM).
 */
export function createProcessServiceQuery(
  options: ProcessServiceQueryOptions,
): ProcessServiceQuery {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE
  const namespaceError = checkNamespace(namespace)
  if (namespaceError) throw namespaceError
  const host = options.host ?? DEFAULT_HOST
  const backoff = options.restartBackoff ?? {}
  const restartInitialMs = positive(
    backoff.initialMs,
    DEFAULT_RESTART_INITIAL_MS,
    "restartBackoff.initialMs",
  )
  const restartMaxMs = positive(backoff.maxMs, DEFAULT_RESTART_MAX_MS, "restartBackoff.maxMs")
  const restartResetAfterMs = positive(
    backoff.resetAfterMs,
    DEFAULT_RESTART_RESET_AFTER_MS,
    "restartBackoff.resetAfterMs",
  )
  const onEvent = options.onEvent ?? (() => {})
  const hostForUrl = host.includes(":") ? `[${host}]` : host

  const services = new Map<string, Service>()
  /** Every replica not yet gone, across services: what close() and killNow() reach. */
  const live = new Set<Replica>()
  /** Ports held by this query's replicas (and reserved for ones starting), across services. */
  const heldPorts = new Set<number>()
  let closing: Promise<void> | undefined

  const emit = (event: ProcessEvent) => {
    try {
      onEvent(event)
    } catch {
      // A faulty listener must not stop a replica from being managed.
    }
  }

  const replicaEvent = (replica: Replica) => ({
    service: replica.service.name,
    namespace,
    pid: replica.pid,
    port: replica.port,
  })

  const lookup = (name: string, ns: string | undefined): Service => {
    const service = ns === undefined || ns === namespace ? services.get(name) : undefined
    if (service === undefined) throw new ServiceNotFoundError(name, ns ?? namespace)
    return service
  }

  const assertOpen = () => {
    if (closing !== undefined) throw new Error("the process service query is closed")
  }

  const available = (service: Service) =>
    service.replicas.reduce((n, replica) => (replica.state === "ready" ? n + 1 : n), 0)

  const response = (service: Service): ServiceQueryResponse => {
    const { definition } = service
    return {
      replicas: service.desired,
      availableReplicas: available(service),
      minReplicas: definition.minReplicas,
      maxReplicas: definition.maxReplicas,
      scalingFactor: definition.scalingFactor,
      ...(definition.labels && { labels: { ...definition.labels } }),
      ...(definition.annotations && { annotations: { ...definition.annotations } }),
    }
  }

  /** Tells the watchers when desired or available replicas changed. */
  const notify = (service: Service) => {
    const current = response(service)
    const last = service.lastNotified
    if (last.replicas === current.replicas && last.available === current.availableReplicas) return
    service.lastNotified = { replicas: current.replicas, available: current.availableReplicas }
    for (const watcher of [...service.watchers]) {
      try {
        watcher({ ...current })
      } catch (error) {
        emit({
          type: "error",
          service: service.name,
          namespace,
          error: asError(error),
        })
      }
    }
  }

  const recordFailure = (service: Service) => {
    service.failures++
    const delayMs = Math.min(restartInitialMs * 2 ** (service.failures - 1), restartMaxMs)
    service.backoffUntil = Date.now() + delayMs
    emit({ type: "backoff", service: service.name, namespace, failures: service.failures, delayMs })
  }

  const startFailed = (service: Service, error: Error) => {
    service.lastError = error
    emit({ type: "error", service: service.name, namespace, error })
    recordFailure(service)
  }

  const releasePort = (port: number) => {
    heldPorts.delete(port)
    for (const service of services.values()) {
      if (service.waitingForPort) {
        service.waitingForPort = false
        void reconcile(service)
      }
    }
  }

  /** A free port for a new replica, reserved; undefined when the range has none now. */
  const allocatePort = async (service: Service): Promise<number | undefined> => {
    const { ports } = service.definition
    if (ports === undefined) {
      for (let attempt = 0; attempt < EPHEMERAL_PORT_ATTEMPTS; attempt++) {
        const port = await ephemeralPort(host).catch(() => undefined)
        if (port !== undefined && !heldPorts.has(port)) {
          heldPorts.add(port)
          return port
        }
      }
      return undefined
    }
    for (let port = ports.from; port <= ports.to; port++) {
      if (heldPorts.has(port)) continue
      heldPorts.add(port) // reserved before the await, so no other start takes it meanwhile
      if (await isPortFree(host, port)) return port
      heldPorts.delete(port)
    }
    return undefined
  }

  const scheduleProbe = (replica: Replica, delayMs: number) => {
    replica.probeTimer = setTimeout(() => void probeOnce(replica), delayMs)
    replica.probeTimer.unref()
  }

  const probeOnce = async (replica: Replica) => {
    const { service } = replica
    const { definition } = service
    const ok = await probe(
      host,
      replica.port,
      definition.httpPath,
      definition.probeTimeoutMs,
      replica.probes.signal,
    )
    if (replica.probes.signal.aborted) return
    const now = Date.now()
    if (ok) {
      replica.failedProbes = 0
      if (replica.state !== "ready") {
        const first = replica.readyAt === undefined
        replica.state = "ready"
        replica.readyAt ??= now
        clearTimeout(replica.startupTimer)
        replica.startupTimer = undefined
        if (first)
          emit({ type: "ready", ...replicaEvent(replica), startupMs: now - replica.startedAt })
        notify(service)
      } else if (now - replica.readyAt! >= restartResetAfterMs) {
        service.failures = 0
      }
    } else if (replica.state === "ready" && ++replica.failedProbes >= definition.failureThreshold) {
      replica.state = "unready"
      emit({ type: "unready", ...replicaEvent(replica) })
      notify(service)
    }
    scheduleProbe(
      replica,
      replica.state === "ready" ? definition.readyProbeIntervalMs : definition.probeIntervalMs,
    )
  }

  const stopReplica = (replica: Replica) => {
    if (replica.state === "stopping") return
    const wasReady = replica.state === "ready"
    const { stopGracePeriodMs } = replica.service.definition
    replica.state = "stopping"
    replica.probes.abort()
    clearTimeout(replica.probeTimer)
    clearTimeout(replica.startupTimer)
    replica.stopDeadline = Date.now() + stopGracePeriodMs
    emit({ type: "stop", ...replicaEvent(replica) })
    signalGroup(replica.pid, "SIGTERM")
    replica.killTimer = setTimeout(() => {
      emit({ type: "kill", ...replicaEvent(replica), gracePeriodMs: stopGracePeriodMs })
      signalGroup(replica.pid, "SIGKILL")
    }, stopGracePeriodMs)
    if (wasReady) notify(replica.service)
  }

  /** Waits for what the replica left in its process group, SIGKILLing it at the deadline. */
  const reapGroup = async (pid: number, deadline: number) => {
    while (groupAlive(pid)) {
      if (Date.now() >= deadline) {
        signalGroup(pid, "SIGKILL")
        return
      }
      await sleep(GROUP_POLL_MS)
    }
  }

  const onExit = (
    replica: Replica,
    code: number | null,
    signal: NodeJS.Signals | null,
    resolveGone: () => void,
  ) => {
    const { service } = replica
    const crashed = replica.state !== "stopping"
    const wasReady = replica.state === "ready"
    replica.probes.abort()
    clearTimeout(replica.probeTimer)
    clearTimeout(replica.startupTimer)
    clearTimeout(replica.killTimer)
    service.replicas.splice(service.replicas.indexOf(replica), 1)
    const at = Date.now()
    service.lastExit = { pid: replica.pid, code, signal, crashed, at }
    emit({ type: "exit", ...replicaEvent(replica), code, signal, crashed })
    let deadline = replica.stopDeadline
    if (crashed) {
      service.crashes++
      if (replica.readyAt !== undefined && at - replica.readyAt >= restartResetAfterMs) {
        service.failures = 0
      }
      recordFailure(service)
      // Whatever the crashed replica started gets the same SIGTERM-then-SIGKILL.
      if (signalGroup(replica.pid, "SIGTERM")) deadline = at + service.definition.stopGracePeriodMs
    }
    if (wasReady) notify(service)
    void reapGroup(replica.pid, deadline).then(() => {
      live.delete(replica)
      releasePort(replica.port)
      resolveGone()
    })
    if (closing === undefined && !service.removed) void reconcile(service)
  }

  /** Spawns one replica on `port`; false when it could not be started. */
  const startReplica = async (service: Service, port: number): Promise<boolean> => {
    const { definition } = service
    let child: ChildProcess
    try {
      child = spawn(definition.command, definition.args, {
        cwd: definition.cwd,
        env: { ...definition.env, [definition.portEnv]: String(port) },
        detached: USE_PROCESS_GROUPS,
        stdio: definition.stdio,
        windowsHide: true,
      })
    } catch (error) {
      releasePort(port)
      startFailed(service, asError(error))
      return false
    }
    const pid = child.pid
    if (pid === undefined) {
      // The spawn failed (ENOENT, EACCES...): Node reports why on the next tick.
      const error = await new Promise<Error>((resolve) => child.once("error", resolve))
      releasePort(port)
      startFailed(service, error)
      return false
    }
    let resolveGone!: () => void
    const replica: Replica = {
      service,
      child,
      pid,
      port,
      url: `http://${hostForUrl}:${port}`,
      startedAt: Date.now(),
      state: "starting",
      readyAt: undefined,
      failedProbes: 0,
      probes: new AbortController(),
      probeTimer: undefined,
      startupTimer: undefined,
      killTimer: undefined,
      stopDeadline: 0,
      gone: new Promise((resolve) => {
        resolveGone = resolve
      }),
    }
    live.add(replica)
    service.replicas.push(replica)
    child.on("error", (error) => emit({ type: "error", service: service.name, namespace, error }))
    child.once("exit", (code, signal) => onExit(replica, code, signal, resolveGone))
    emit({ type: "spawn", ...replicaEvent(replica) })
    if (closing !== undefined || service.removed) {
      stopReplica(replica)
      return true
    }
    replica.startupTimer = setTimeout(() => {
      if (replica.state !== "starting") return
      emit({
        type: "startup-timeout",
        ...replicaEvent(replica),
        timeoutMs: definition.startupTimeoutMs,
      })
      service.lastError = new Error(
        `${service.name} replica ${pid} was not ready within ${definition.startupTimeoutMs}ms`,
      )
      recordFailure(service)
      stopReplica(replica)
    }, definition.startupTimeoutMs)
    replica.startupTimer.unref()
    scheduleProbe(replica, definition.probeIntervalMs)
    return true
  }

  const active = (service: Service) => service.replicas.filter((r) => r.state !== "stopping")

  /** Replicas least worth keeping first: not ready, then the newest. */
  const stopOrder = (a: Replica, b: Replica) =>
    Number(a.state === "ready") - Number(b.state === "ready") || b.startedAt - a.startedAt

  const reconcileOnce = async (service: Service) => {
    const running = active(service)
    if (running.length > service.desired) {
      for (const replica of running.sort(stopOrder).slice(0, running.length - service.desired)) {
        stopReplica(replica)
      }
    }
    if (running.length >= service.desired) {
      clearTimeout(service.restartTimer)
      service.restartTimer = undefined
      return
    }
    while (closing === undefined && !service.removed && active(service).length < service.desired) {
      const wait = service.backoffUntil - Date.now()
      if (wait > 0) {
        if (service.restartTimer === undefined) {
          service.restartTimer = setTimeout(() => {
            service.restartTimer = undefined
            void reconcile(service)
          }, wait)
        }
        return
      }
      const port = await allocatePort(service)
      if (port === undefined) {
        const { ports } = service.definition
        if (ports !== undefined && [...heldPorts].some((p) => p >= ports.from && p <= ports.to)) {
          // A port of ours comes free when a stopping replica is gone: start then.
          service.waitingForPort = true
          return
        }
        const range = ports === undefined ? "" : ` in ${ports.from}-${ports.to}`
        startFailed(service, new Error(`no free port for ${service.name}${range}`))
        continue
      }
      if (closing !== undefined || service.removed || active(service).length >= service.desired) {
        releasePort(port)
        return
      }
      await startReplica(service, port)
    }
  }

  /** Brings the service's processes to its desired count; one pass at a time per service. */
  const reconcile = (service: Service): Promise<void> => {
    if (service.reconciling !== undefined) {
      service.dirty = true
      return service.reconciling
    }
    service.reconciling = (async () => {
      try {
        do {
          service.dirty = false
          await reconcileOnce(service)
        } while (service.dirty && closing === undefined && !service.removed)
      } catch (error) {
        startFailed(service, asError(error))
      } finally {
        service.reconciling = undefined
      }
    })()
    return service.reconciling
  }

  /** A service ready to be added, its definition checked. */
  const newService = (name: string, definition: ProcessServiceDefinition): Service => {
    const nameError = checkServiceName(name)
    if (nameError) throw nameError
    if (services.has(name)) throw new Error(`service ${name} already exists`)
    const resolved = resolveDefinition(name, definition, options)
    const desired = definition.replicas ?? 0
    checkReplicaCount(name, desired, resolved)
    return {
      name,
      definition: resolved,
      desired,
      replicas: [],
      watchers: new Set(),
      lastNotified: { replicas: desired, available: 0 },
      crashes: 0,
      failures: 0,
      backoffUntil: 0,
      restartTimer: undefined,
      lastExit: undefined,
      lastError: undefined,
      reconciling: undefined,
      dirty: false,
      waitingForPort: false,
      removed: false,
      nextEndpoint: 0,
    }
  }

  const addService = (service: Service) => {
    services.set(service.name, service)
    if (service.desired > 0) void reconcile(service)
  }

  const participant: ShutdownParticipant = {
    close: () => query.close(),
    killNow() {
      for (const replica of live) signalGroup(replica.pid, "SIGKILL")
    },
  }

  const query: ProcessServiceQuery = {
    namespace,
    get services() {
      return [...services.keys()]
    },
    addService(name, definition) {
      assertOpen()
      addService(newService(name, definition))
    },
    async removeService(name) {
      const service = lookup(name, namespace)
      service.removed = true
      services.delete(name)
      clearTimeout(service.restartTimer)
      service.watchers.clear()
      for (const replica of service.replicas) stopReplica(replica)
      await service.reconciling
      await Promise.all([...live].filter((r) => r.service === service).map((r) => r.gone))
    },
    async getReplicas(name, ns, queryOptions) {
      queryOptions?.signal?.throwIfAborted()
      const service = lookup(name, ns)
      assertOpen()
      return response(service)
    },
    async setReplicas(name, ns, count, queryOptions) {
      queryOptions?.signal?.throwIfAborted()
      const service = lookup(name, ns)
      assertOpen()
      checkReplicaCount(name, count, service.definition)
      service.desired = count
      notify(service)
      await reconcile(service)
    },
    watch(name, ns, onChange, watchOptions) {
      const service = lookup(name, ns)
      assertOpen()
      const signal = watchOptions?.signal
      if (signal?.aborted) return
      // Each subscription is its own function, so one callback can be subscribed twice.
      const watcher = (status: ServiceQueryResponse) => onChange(status)
      service.watchers.add(watcher)
      signal?.addEventListener("abort", () => service.watchers.delete(watcher), { once: true })
    },
    endpoint(name, ns) {
      const service = lookup(name, ns)
      const ready = service.replicas.filter((replica) => replica.state === "ready")
      if (ready.length === 0) return undefined
      service.nextEndpoint = (service.nextEndpoint + 1) % ready.length
      return ready[service.nextEndpoint]!.url
    },
    endpoints(name, ns) {
      return lookup(name, ns)
        .replicas.filter((replica) => replica.state === "ready")
        .map((replica) => replica.url)
    },
    status(name, ns) {
      const service = lookup(name, ns)
      return {
        name,
        namespace,
        replicas: service.desired,
        availableReplicas: available(service),
        processes: service.replicas.map((replica) => ({
          pid: replica.pid,
          port: replica.port,
          url: replica.url,
          state: replica.state,
          startedAt: replica.startedAt,
          ...(replica.readyAt !== undefined && { readyAt: replica.readyAt }),
        })),
        crashes: service.crashes,
        consecutiveFailures: service.failures,
        ...(service.backoffUntil > Date.now() && { backoffUntil: service.backoffUntil }),
        ...(service.lastExit && { lastExit: { ...service.lastExit } }),
        ...(service.lastError && { lastError: service.lastError }),
      }
    },
    close() {
      if (closing !== undefined) return closing
      closing = (async () => {
        for (const service of services.values()) {
          clearTimeout(service.restartTimer)
          service.restartTimer = undefined
          for (const replica of service.replicas) stopReplica(replica)
        }
        // A start in progress finishes (and, seeing the query closed, stops its replica).
        await Promise.all([...services.values()].map((service) => service.reconciling))
        await Promise.all([...live].map((replica) => replica.gone))
        for (const service of services.values()) service.watchers.clear()
        unregisterFromShutdown(participant)
      })()
      return closing
    },
  }

  // Every definition is checked before anything is started or hooked.
  const initial = Object.entries(options.services ?? {}).map(([name, definition]) =>
    newService(name, definition),
  )
  registerForShutdown(participant)
  for (const service of initial) addService(service)
  return query
}

import { type ChildProcess, spawn } from "node:child_process"
import { asError } from "@scale-from-zero/core/provider"
import { scheduleProbe } from "./probe.js"
import { groupAlive, signalGroup, USE_PROCESS_GROUPS } from "./process-group.js"
import {
  type Replica,
  type Runtime,
  recordFailure,
  replicaEvent,
  retired,
  type Service,
  startFailed,
} from "./runtime.js"

/** How often a stopping replica's process group is checked for leftovers. */
const GROUP_POLL_MS = 20

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Spawns one replica on `port` (already reserved) and starts probing it. */
export async function startReplica(runtime: Runtime, service: Service, port: number) {
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
    runtime.ports.release(port)
    startFailed(runtime, service, asError(error))
    return
  }
  const pid = child.pid
  if (pid === undefined) {
    // The spawn failed (ENOENT, EACCES...): Node reports why on the next tick.
    const error = await new Promise<Error>((resolve) => child.once("error", resolve))
    runtime.ports.release(port)
    startFailed(runtime, service, error)
    return
  }
  const host = runtime.host.includes(":") ? `[${runtime.host}]` : runtime.host
  let resolveGone!: () => void
  const replica: Replica = {
    service,
    child,
    pid,
    port,
    url: `http://${host}:${port}`,
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
  runtime.live.add(replica)
  service.replicas.push(replica)
  const { namespace } = runtime
  child.on("error", (error) =>
    runtime.emit({ type: "error", service: service.name, namespace, error }),
  )
  child.once("exit", (code, signal) => onExit(runtime, replica, code, signal, resolveGone))
  runtime.emit({ type: "spawn", ...replicaEvent(runtime, replica) })
  if (retired(runtime, service)) {
    // Closed or removed while it was spawning: it never serves.
    stopReplica(runtime, replica)
    return
  }
  const { startupTimeoutMs } = definition
  replica.startupTimer = setTimeout(() => {
    if (replica.state !== "starting") return
    const timeoutMs = startupTimeoutMs
    runtime.emit({ type: "startup-timeout", ...replicaEvent(runtime, replica), timeoutMs })
    service.lastError = new Error(
      `${service.name} replica ${pid} was not ready within ${startupTimeoutMs}ms`,
    )
    recordFailure(runtime, service)
    stopReplica(runtime, replica)
  }, startupTimeoutMs)
  replica.startupTimer.unref()
  scheduleProbe(runtime, replica, definition.probeIntervalMs)
}

const stopTimers = (replica: Replica) => {
  replica.probes.abort()
  clearTimeout(replica.probeTimer)
  clearTimeout(replica.startupTimer)
}

/** SIGTERM to the replica's group, then SIGKILL once its grace period is over. */
export function stopReplica(runtime: Runtime, replica: Replica): void {
  if (replica.state === "stopping") return
  const wasReady = replica.state === "ready"
  const { stopGracePeriodMs } = replica.service.definition
  replica.state = "stopping"
  stopTimers(replica)
  replica.stopDeadline = Date.now() + stopGracePeriodMs
  runtime.emit({ type: "stop", ...replicaEvent(runtime, replica) })
  signalGroup(replica.pid, "SIGTERM")
  replica.killTimer = setTimeout(() => {
    const gracePeriodMs = stopGracePeriodMs
    runtime.emit({ type: "kill", ...replicaEvent(runtime, replica), gracePeriodMs })
    signalGroup(replica.pid, "SIGKILL")
  }, stopGracePeriodMs)
  if (wasReady) runtime.changed(replica.service)
}

/** Waits for what the replica left in its process group, SIGKILLing it at the deadline. */
async function reapGroup(pid: number, deadline: number): Promise<void> {
  while (groupAlive(pid)) {
    if (Date.now() >= deadline) {
      signalGroup(pid, "SIGKILL")
      return
    }
    await sleep(GROUP_POLL_MS)
  }
}

/** The replica exited: record why, reap its group, free its port, replace it if it crashed. */
function onExit(
  runtime: Runtime,
  replica: Replica,
  code: number | null,
  signal: NodeJS.Signals | null,
  resolveGone: () => void,
): void {
  const { service } = replica
  const crashed = replica.state !== "stopping"
  const wasReady = replica.state === "ready"
  stopTimers(replica)
  clearTimeout(replica.killTimer)
  service.replicas.splice(service.replicas.indexOf(replica), 1)
  const at = Date.now()
  service.lastExit = { pid: replica.pid, code, signal, crashed, at }
  runtime.emit({ type: "exit", ...replicaEvent(runtime, replica), code, signal, crashed })
  let deadline = replica.stopDeadline
  if (crashed) {
    service.crashes++
    if (replica.readyAt !== undefined && at - replica.readyAt >= runtime.restart.resetAfterMs) {
      service.failures = 0
    }
    recordFailure(runtime, service)
    // Whatever the crashed replica started gets the same SIGTERM-then-SIGKILL.
    if (signalGroup(replica.pid, "SIGTERM")) deadline = at + service.definition.stopGracePeriodMs
  }
  if (wasReady) runtime.changed(service)
  void reapGroup(replica.pid, deadline).then(() => {
    runtime.live.delete(replica)
    runtime.ports.release(replica.port)
    resolveGone()
  })
  if (!retired(runtime, service)) void runtime.reconcile(service)
}

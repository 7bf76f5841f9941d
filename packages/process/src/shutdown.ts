/** What the process-wide shutdown hooks ask of each open ProcessServiceQuery. */
export interface ShutdownParticipant {
  /** Graceful: SIGTERM, a grace period, then SIGKILL; resolves when every child is gone. */
  close(): Promise<void>
  /** Synchronous, for the `exit` event where nothing can be awaited: SIGKILL every child. */
  killNow(): void
}

interface Hooks {
  exit: () => void
  SIGINT: () => void
  SIGTERM: () => void
}

interface Registry {
  readonly participants: Set<ShutdownParticipant>
  /** The installed listeners, kept here so whichever copy of this module removes them can. */
  hooks: Hooks | undefined
  shuttingDown: boolean
}

type ShutdownSignal = "SIGINT" | "SIGTERM"

// One registry per process, even when both the ESM and the CJS build are loaded,
// so the hooks are installed once and a signal is re-raised once.
const REGISTRY_KEY = Symbol.for("@scale-from-zero/process/shutdown-registry")
const shared = globalThis as Record<symbol, Registry | undefined>
const registry: Registry = shared[REGISTRY_KEY] ?? {
  participants: new Set<ShutdownParticipant>(),
  hooks: undefined,
  shuttingDown: false,
}
shared[REGISTRY_KEY] = registry

const killAllNow = () => {
  for (const participant of registry.participants) participant.killNow()
}

const onSignal = (signal: ShutdownSignal) => {
  // Listening to a signal turns off Node's default of terminating: when no one else
  // listens, terminate as the default would once the children are gone.
  const reraise = process.listenerCount(signal) === 1
  const terminate = () => {
    uninstall()
    if (reraise) process.kill(process.pid, signal)
  }
  if (registry.shuttingDown) {
    // A second signal while children are still stopping: do not wait any longer.
    killAllNow()
    terminate()
    return
  }
  registry.shuttingDown = true
  void Promise.allSettled([...registry.participants].map((p) => p.close())).then(() => {
    registry.shuttingDown = false
    terminate()
  })
}

function install() {
  if (registry.hooks !== undefined) return
  const hooks: Hooks = {
    // `exit` also follows an uncaught exception, an unhandled rejection and process.exit().
    exit: killAllNow,
    SIGINT: () => onSignal("SIGINT"),
    SIGTERM: () => onSignal("SIGTERM"),
  }
  registry.hooks = hooks
  process.on("exit", hooks.exit)
  process.on("SIGINT", hooks.SIGINT)
  process.on("SIGTERM", hooks.SIGTERM)
}

function uninstall() {
  const { hooks } = registry
  if (hooks === undefined) return
  registry.hooks = undefined
  process.off("exit", hooks.exit)
  process.off("SIGINT", hooks.SIGINT)
  process.off("SIGTERM", hooks.SIGTERM)
}

/** Hooks `participant` to the process's exit, SIGINT and SIGTERM (installing them once). */
export function registerForShutdown(participant: ShutdownParticipant): void {
  registry.participants.add(participant)
  install()
}

/** Unhooks `participant`; the last one out removes the process hooks. */
export function unregisterFromShutdown(participant: ShutdownParticipant): void {
  registry.participants.delete(participant)
  if (registry.participants.size === 0) uninstall()
}

/** Whether the process hooks are installed now. */
export function shutdownHooksInstalled(): boolean {
  return registry.hooks !== undefined
}

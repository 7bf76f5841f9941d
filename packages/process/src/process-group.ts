// On POSIX each replica leads its own process group (spawned detached), so signalling
// the group reaches whatever the replica started too. Windows has no groups: the
// replica itself is signalled.
export const USE_PROCESS_GROUPS = process.platform !== "win32"

/** Sends `signal` to the replica's group; false when no process of it is left. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(USE_PROCESS_GROUPS ? -pid : pid, signal)
    return true
  } catch {
    return false
  }
}

/** True while any process of the group led by `pid` is alive. */
export function groupAlive(pid: number): boolean {
  return USE_PROCESS_GROUPS && signalGroup(pid, 0)
}

import { getEventListeners } from "node:events"

/** Timers alive in this process now (Node's view of its own event loop). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length
}

/** Abort listeners still registered on a signal. */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, "abort").length
}

/** Lets pending promise callbacks and zero-delay timers run. */
export function settle(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Waits until `condition` holds, checking every 5 ms, failing after `withinMs`. */
export async function until(condition: () => boolean, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`)
    await settle(5)
  }
}

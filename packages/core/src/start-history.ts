import type { ScalingEvent } from "./events.js"
import { serviceKey } from "./function-cache.js"
import { LruMap } from "./lru.js"

/** Before the window a recorded cold start predicts, a wake polls this many intervals apart. */
const SPARSE_FACTOR = 2
/** Starts vary by a share of their length (image pulls, runtime start-up): the window's least margin. */
const RELATIVE_MARGIN = 0.1

/**
 * Keeps the last few cold starts of each service, for the waiting page's estimate and the
 * scaler's poll schedule: a cold start is timed from the scale-up to the service's readiness,
 * as the scaler's events tell them.
 */
export function createStartHistory(maxServices = 1000, perService = 5) {
  const durations = new LruMap<string, number[]>(maxServices)
  const scaleUps = new LruMap<string, number>(maxServices)
  return {
    observe(event: ScalingEvent): void {
      const key = serviceKey(event.service, event.namespace)
      if (event.type === "scale-up") scaleUps.set(key, Date.now())
      if (event.type !== "ready") return
      const since = scaleUps.peek(key)
      if (since === undefined) return
      scaleUps.delete(key)
      const list = durations.peek(key) ?? []
      list.push(Date.now() - since)
      if (list.length > perService) list.shift()
      durations.set(key, list)
    },
    /** When the scale-up still under way was asked for, if it was. */
    scaleUpAt(key: string): number | undefined {
      return scaleUps.peek(key)
    },
    /** The median of the recorded cold starts, or undefined before the first. */
    typical(key: string): number | undefined {
      const list = durations.peek(key)
      if (list === undefined || list.length === 0) return undefined
      const sorted = [...list].sort((a, b) => a - b)
      return sorted[Math.floor((sorted.length - 1) / 2)]
    },
    /** The recorded cold starts, oldest first (empty before the first). */
    recorded(key: string): readonly number[] {
      return durations.peek(key) ?? []
    },
  }
}

export type StartHistory = ReturnType<typeof createStartHistory>

/**
 * The delays between a wake's status reads, given the service's recorded cold starts: every
 * `intervalMs` without a record. With one: sparse reads (2 intervals apart) early, every
 * interval again over a guard band before the window the records predict, dense reads through
 * the window, then back to the interval gradually. The dense interval spends what the sparse
 * reads saved: as many reads reach the median start as plain polling would, so the backend is
 * read about as often while readiness is seen sooner, and a start earlier than the window is
 * seen no later than plain polling would see it unless it is earlier than the guard band too.
 * Returns the delay before the next read, from the milliseconds elapsed since the scale-up.
 */
export function pollSchedule(
  recorded: readonly number[],
  intervalMs: number,
): (elapsedMs: number) => number {
  if (recorded.length === 0) return () => intervalMs
  const sorted = [...recorded].sort((a, b) => a - b)
  const low = sorted[0] as number
  const high = sorted[sorted.length - 1] as number
  const median = sorted[Math.floor((sorted.length - 1) / 2)] as number
  // A recorded start includes the read that saw it ready: up to one interval late.
  const margin = Math.max((high - low) / 2, intervalMs / 2, median * RELATIVE_MARGIN)
  const windowStart = Math.max(0, low - margin)
  const guardStart = Math.max(0, windowStart - margin)
  const windowEnd = high + margin
  const sparseMs = intervalMs * SPARSE_FACTOR
  const earlyReads =
    Math.ceil(guardStart / sparseMs) + Math.ceil((windowStart - guardStart) / intervalMs)
  const budget = Math.max(1, median / intervalMs - earlyReads)
  const denseMs = Math.min(intervalMs, (median - windowStart) / budget)
  return (elapsedMs) => {
    if (elapsedMs < guardStart) return Math.min(sparseMs, guardStart - elapsedMs)
    if (elapsedMs < windowStart) return Math.min(intervalMs, windowStart - elapsedMs)
    // Later than recorded: the delay grows with the lateness, so a start just late is seen soon.
    return Math.min(intervalMs, Math.max(denseMs, (elapsedMs - windowEnd) / 2))
  }
}

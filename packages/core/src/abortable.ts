/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts; leaves no timer or listener behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal.addEventListener("abort", onAbort, { once: true })
  })
}

/** A listener for a wait's "abort": a function, or an object that handles it (no closure needed). */
export type AbortListener = (() => void) | { handleEvent(): void }

/**
 * What a wait reads of its cancellation. An AbortSignal is one; so is a runtime bridge's lighter
 * one (the Node bridge reads the response it holds instead of making an AbortController per held
 * request). Listeners are added for "abort" only, and always removed.
 */
export interface WaitSignal {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: "abort", listener: AbortListener, options?: { once?: boolean }): void
  removeEventListener(type: "abort", listener: AbortListener): void
}

export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}

/** A signal for one bounded call, with `release()` to clear its timer and listener. */
export interface Deadline {
  readonly signal: AbortSignal
  release(): void
}

/**
 * A signal that aborts with `outer`'s reason as soon as it aborts (at once if it already has),
 * or with `onTimeout()` after `ms`. Call `release()` when the call is done: it leaves no timer
 * or listener behind.
 */
export function deadline(
  ms: number,
  outer: AbortSignal | undefined,
  onTimeout: () => unknown,
): Deadline {
  const controller = new AbortController()
  const onAbort = () => controller.abort(outer?.reason)
  const timer = setTimeout(() => controller.abort(onTimeout()), ms)
  if (outer?.aborted) onAbort()
  else outer?.addEventListener("abort", onAbort, { once: true })
  return {
    signal: controller.signal,
    release() {
      clearTimeout(timer)
      outer?.removeEventListener("abort", onAbort)
    },
  }
}

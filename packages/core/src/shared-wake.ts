import { asError, sleep } from "./abortable.js"
import type { ServiceQueryResponse } from "./types.js"

/**
 * Wakes shared by several gateway instances in front of the same services: the first instance
 * to need a cold service claims its wake, scales it up and waits for it; the others wait for
 * that instance to publish "ready", and take the wake over if its claim expires unanswered.
 * Implementations: the in-memory one below (instances in one process, and tests),
 * `@scale-from-zero/redis`.
 */
export interface SharedWakes {
  /** Milliseconds a claim lasts unless renewed; the leader renews it every third of this. */
  readonly wakeClaimTtlMs: number
  /** Claims the service's wake for this instance: true for one instance at a time (and again for the holder). */
  claimWake(name: string, namespace: string): Promise<boolean>
  /** Extends this instance's claim; false when it does not hold it any more. */
  renewWake(name: string, namespace: string): Promise<boolean>
  /** Tells every instance the service is ready, with its status, and releases the claim. */
  publishReady(name: string, namespace: string, status: ServiceQueryResponse): Promise<void>
  /** Releases this instance's claim without an answer (its wake failed or nobody waits any more). */
  releaseWake(name: string, namespace: string): Promise<void>
  /**
   * Calls `listener` with the status each time an instance publishes the service ready, until
   * `signal` aborts; resolves once the subscription is in place.
   */
  onReady(
    name: string,
    namespace: string,
    listener: (status: ServiceQueryResponse) => void,
    signal: AbortSignal,
  ): Promise<void>
}

/**
 * Runs a cold service's wake with the other instances: leads it (`lead`, with `fresh` set when
 * it takes over from an instance that stopped answering, so the status is read again) or
 * follows the instance that does, settling with the status it publishes. When the shared
 * state fails, the wake goes on alone: the backend is then asked as if there were no others.
 */
export async function wakeWithOthers(
  shared: SharedWakes,
  name: string,
  namespace: string,
  signal: AbortSignal,
  lead: (fresh: boolean) => Promise<ServiceQueryResponse>,
  report: (error: Error) => void,
): Promise<ServiceQueryResponse> {
  const subscription = new AbortController()
  const unsubscribe = () => subscription.abort()
  signal.addEventListener("abort", unsubscribe, { once: true })
  let decided: "lead" | "alone" | ServiceQueryResponse
  let followed = false
  try {
    decided = await follow(shared, name, namespace, signal, subscription.signal, () => {
      followed = true
    })
  } catch (error) {
    if (signal.aborted) throw error
    report(asError(error))
    decided = "alone"
  } finally {
    signal.removeEventListener("abort", unsubscribe)
    subscription.abort()
  }
  if (decided === "alone") return lead(followed)
  if (decided !== "lead") return decided
  return leadSharing(shared, name, namespace, () => lead(followed), report)
}

/** Subscribes first (a ready published meanwhile is not missed), then claims or waits. */
async function follow(
  shared: SharedWakes,
  name: string,
  namespace: string,
  signal: AbortSignal,
  subscribed: AbortSignal,
  onFollow: () => void,
): Promise<"lead" | ServiceQueryResponse> {
  let published: ServiceQueryResponse | undefined
  let heard = () => {}
  await shared.onReady(
    name,
    namespace,
    (status) => {
      published = status
      heard()
    },
    subscribed,
  )
  // A crashed leader is noticed within a quarter of the claim's life after it lapses.
  const checkMs = Math.max(1, shared.wakeClaimTtlMs / 4)
  for (;;) {
    if (published !== undefined) return published
    if (await shared.claimWake(name, namespace)) return "lead"
    onFollow()
    if (published !== undefined) return published
    const waited = new AbortController()
    heard = () => waited.abort()
    const onAbort = () => waited.abort()
    signal.addEventListener("abort", onAbort, { once: true })
    await sleep(checkMs, waited.signal).catch(() => {})
    signal.removeEventListener("abort", onAbort)
    heard = () => {}
    signal.throwIfAborted()
  }
}

/** Leads the wake, keeping the claim alive, and tells the others how it ended. */
async function leadSharing(
  shared: SharedWakes,
  name: string,
  namespace: string,
  lead: () => Promise<ServiceQueryResponse>,
  report: (error: Error) => void,
): Promise<ServiceQueryResponse> {
  const onError = (error: unknown) => report(asError(error))
  const renewal = setInterval(
    () => shared.renewWake(name, namespace).catch(onError),
    Math.max(1, shared.wakeClaimTtlMs / 3),
  )
  ;(renewal as { unref?: () => void }).unref?.()
  try {
    const status = await lead()
    clearInterval(renewal)
    await shared.publishReady(name, namespace, status).catch(onError)
    return status
  } catch (error) {
    clearInterval(renewal)
    // Let another instance take over now rather than when the claim lapses.
    shared.releaseWake(name, namespace).catch(onError)
    throw error
  }
}

/** Wakes shared by gateway instances in one process: each `instance()` is one instance's view. */
export interface MemorySharedWakes {
  instance(): SharedWakes
}

/** SharedWakes for gateways in one process (and for tests of the protocol). */
export function createMemorySharedWakes(wakeClaimTtlMs = 5_000): MemorySharedWakes {
  const claims = new Map<string, { owner: object; until: number }>()
  const listeners = new Map<string, Set<(status: ServiceQueryResponse) => void>>()
  const key = (name: string, namespace: string) => JSON.stringify([namespace, name])
  const held = (k: string) => {
    const claim = claims.get(k)
    return claim !== undefined && claim.until > Date.now() ? claim : undefined
  }
  const instance = (): SharedWakes => {
    const owner = {}
    return {
      wakeClaimTtlMs,
      async claimWake(name, namespace) {
        const k = key(name, namespace)
        const claim = held(k)
        if (claim !== undefined && claim.owner !== owner) return false
        claims.set(k, { owner, until: Date.now() + wakeClaimTtlMs })
        return true
      },
      async renewWake(name, namespace) {
        const claim = held(key(name, namespace))
        if (claim?.owner !== owner) return false
        claim.until = Date.now() + wakeClaimTtlMs
        return true
      },
      async publishReady(name, namespace, status) {
        const k = key(name, namespace)
        claims.delete(k)
        for (const listener of [...(listeners.get(k) ?? [])]) listener({ ...status })
      },
      async releaseWake(name, namespace) {
        const k = key(name, namespace)
        if (held(k)?.owner === owner) claims.delete(k)
      },
      async onReady(name, namespace, listener, signal) {
        if (signal.aborted) return
        const k = key(name, namespace)
        let set = listeners.get(k)
        if (set === undefined) {
          set = new Set()
          listeners.set(k, set)
        }
        const own = set
        own.add(listener)
        signal.addEventListener(
          "abort",
          () => {
            own.delete(listener)
            if (own.size === 0 && listeners.get(k) === own) listeners.delete(k)
          },
          { once: true },
        )
      },
    }
  }
  return { instance }
}

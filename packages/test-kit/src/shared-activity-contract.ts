/**
 * The SharedActivity contract: one Vitest suite that every implementation runs (core's memory
 * one, `@scale-from-zero/redis`), so several gateway instances agree on when a service was
 * last used and on which one of them scales it down.
 *
 * ## Harness
 *
 * ```ts
 * import { runSharedActivityContract } from "@scale-from-zero/test-kit/shared-activity-contract"
 *
 * runSharedActivityContract("redis", async () => {
 *   const a = createRedisSharedActivity({ url, keyPrefix })
 *   const b = createRedisSharedActivity({ url, keyPrefix })
 *   return { instances: [a, b], cleanup: async () => { await a.close(); await b.close() } }
 * })
 * ```
 *
 * - `createSubject()` is called before every test and must return fresh shared state (for a
 *   shared store: a key prefix unique to the call); `cleanup()`, when given, after every test.
 * - `instances` are two handles on that one state, as two gateway instances would hold them
 *   (separate connections where the implementation has connections). An in-process
 *   implementation may pass the same object twice.
 *
 * What the implementation must do (each a test below): report nothing for a service nobody
 * recorded; keep the latest time any instance recorded, also under concurrent records; keep
 * services apart by name and by namespace, whatever characters their names hold; grant a
 * scale-down claim to exactly one caller across instances, also among concurrent claims;
 * grant it again once the claim's ttl has passed; and list the services any instance recorded,
 * less those claimed since (`recordedServices`, which every implementation here has).
 */
import type { SharedActivity } from "@scale-from-zero/core"
import { afterEach, beforeEach, describe, expect, it } from "vitest"

export interface SharedActivitySubject {
  /** Two handles on one shared state, as two gateway instances hold them. */
  instances: readonly [SharedActivity, SharedActivity]
  /** Releases what the subject opened (connections, timers). */
  cleanup?(): Promise<void>
}

const NAMESPACE = "openfaas-fn"
/** A claim ttl no test outlives: the claim must still hold when the test checks it. */
const LONG_TTL_MS = 30_000
const SHORT_TTL_MS = 150
/**
 * How far a store's clock may trail the test's when it starts a claim: workerd's `Date.now()`
 * stands still between I/O, so a Durable Object may date a claim a little before it was asked.
 */
const STORE_CLOCK_SLACK_MS = 40
const POLL_MS = 20
/** Longest wait for an expired claim to be granted again. */
const EXPIRY_BOUND_MS = 3_000

/**
 * Names a key scheme could confuse: separators, escapes, cluster hash tags, glob characters,
 * control characters, non-ASCII, a lone surrogate beside the replacement character, and "".
 */
export const ODD_NAMES: readonly string[] = [
  "plain",
  "a:b",
  "a_b",
  "a.b",
  "a%3Ab",
  "a%003ab",
  "{tag}",
  "tag",
  "with space",
  "line\nbreak",
  "*?[x]",
  "ünïcødé",
  "unicode",
  "rocket-🚀",
  "\ud800",
  "\ufffd",
  "",
]

export function runSharedActivityContract(
  name: string,
  createSubject: () => Promise<SharedActivitySubject> | SharedActivitySubject,
): void {
  describe(`SharedActivity contract: ${name}`, () => {
    let subject: SharedActivitySubject
    let a: SharedActivity
    let b: SharedActivity

    beforeEach(async () => {
      subject = await createSubject()
      ;[a, b] = subject.instances
    })

    afterEach(async () => {
      await subject.cleanup?.()
    })

    it("reports no activity for a service nobody recorded", async () => {
      expect(await a.lastActive("never-used", NAMESPACE)).toBeUndefined()
      expect(await b.lastActive("never-used", NAMESPACE)).toBeUndefined()
    })

    it("keeps the latest time recorded by any instance", async () => {
      await a.record("svc", NAMESPACE, 1_000)
      expect(await b.lastActive("svc", NAMESPACE)).toBe(1_000)

      await b.record("svc", NAMESPACE, 500) // an older time never moves it back
      expect(await a.lastActive("svc", NAMESPACE)).toBe(1_000)
      expect(await b.lastActive("svc", NAMESPACE)).toBe(1_000)

      await b.record("svc", NAMESPACE, 2_000)
      expect(await a.lastActive("svc", NAMESPACE)).toBe(2_000)
    })

    it("keeps epoch-millisecond times exactly", async () => {
      const now = Date.now()
      await a.record("svc", NAMESPACE, now)
      expect(await b.lastActive("svc", NAMESPACE)).toBe(now)
    })

    it("keeps the maximum under concurrent records from both instances", async () => {
      const base = Date.now()
      // Times in an order where the largest is neither first nor last.
      const times = Array.from({ length: 40 }, (_, i) => base + ((i * 17) % 40))
      await Promise.all(times.map((at, i) => (i % 2 === 0 ? a : b).record("busy", NAMESPACE, at)))
      expect(await a.lastActive("busy", NAMESPACE)).toBe(base + 39)
      expect(await b.lastActive("busy", NAMESPACE)).toBe(base + 39)
    })

    it("keeps services apart by name and by namespace", async () => {
      await a.record("svc", "ns-one", 1_000)
      await b.record("svc", "ns-two", 2_000)
      await a.record("other", "ns-one", 3_000)
      expect(await b.lastActive("svc", "ns-one")).toBe(1_000)
      expect(await a.lastActive("svc", "ns-two")).toBe(2_000)
      expect(await b.lastActive("other", "ns-one")).toBe(3_000)
      expect(await a.lastActive("other", "ns-two")).toBeUndefined()

      expect(await a.claimScaleDown("svc", "ns-one", LONG_TTL_MS)).toBe(true)
      expect(await b.claimScaleDown("svc", "ns-two", LONG_TTL_MS)).toBe(true)
      expect(await a.claimScaleDown("other", "ns-one", LONG_TTL_MS)).toBe(true)
    })

    it("lets exactly one caller claim a scale-down, across instances, until the claim expires", async () => {
      expect(await a.claimScaleDown("svc", NAMESPACE, LONG_TTL_MS)).toBe(true)
      expect(await b.claimScaleDown("svc", NAMESPACE, LONG_TTL_MS)).toBe(false)
      // The claim is not re-entrant: the same instance asking again is a second caller.
      expect(await a.claimScaleDown("svc", NAMESPACE, LONG_TTL_MS)).toBe(false)
    })

    it("grants the claim again once its ttl has passed, and not before", async () => {
      const claimedBefore = Date.now()
      expect(await a.claimScaleDown("svc", NAMESPACE, SHORT_TTL_MS)).toBe(true)
      let granted = false
      while (!granted && Date.now() - claimedBefore < EXPIRY_BOUND_MS) {
        const askedAt = Date.now()
        granted = await b.claimScaleDown("svc", NAMESPACE, LONG_TTL_MS)
        // The claim was made after claimedBefore, so it holds at least until claimedBefore + ttl
        // (less the store clock's slack).
        if (askedAt - claimedBefore < SHORT_TTL_MS - STORE_CLOCK_SLACK_MS) {
          expect(granted).toBe(false)
        }
        if (!granted) await sleep(POLL_MS)
      }
      expect(granted).toBe(true)
      expect(Date.now() - claimedBefore).toBeGreaterThanOrEqual(SHORT_TTL_MS - STORE_CLOCK_SLACK_MS)
      // The new claim holds in turn.
      expect(await a.claimScaleDown("svc", NAMESPACE, LONG_TTL_MS)).toBe(false)
    })

    it("grants exactly one of 20 concurrent claims from two instances", async () => {
      for (const service of ["race-1", "race-2", "race-3"]) {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? a : b).claimScaleDown(service, NAMESPACE, LONG_TTL_MS),
          ),
        )
        expect(results.filter(Boolean)).toHaveLength(1)
      }
    })

    it("lists the services any instance recorded, less those claimed for a scale-down since", async () => {
      const list = async (instance: SharedActivity) => {
        expect(typeof instance.recordedServices).toBe("function")
        return (await instance.recordedServices!()).sort(byService)
      }
      expect(await list(a)).toEqual([])
      const odd = ODD_NAMES.map((name) => ({ name, namespace: "ns:odd/{x}" }))
      const svc = { name: "svc", namespace: NAMESPACE }
      const other = { name: "other", namespace: NAMESPACE }
      await a.record(svc.name, svc.namespace, 1_000)
      await b.record(other.name, other.namespace, 2_000)
      await Promise.all(odd.map(({ name, namespace }) => b.record(name, namespace, 3_000)))
      expect(await list(a)).toEqual([svc, other, ...odd].sort(byService))

      expect(await b.claimScaleDown(svc.name, svc.namespace, LONG_TTL_MS)).toBe(true)
      expect(await list(a)).toEqual([other, ...odd].sort(byService))
      // A refused claim takes nothing off the list.
      expect(await a.claimScaleDown(svc.name, svc.namespace, LONG_TTL_MS)).toBe(false)
      await a.record(svc.name, svc.namespace, 4_000) // used again: listed again
      expect(await list(b)).toEqual([svc, other, ...odd].sort(byService))
    })

    it("keeps names with any characters apart, each its own service", async () => {
      const namespaces = [NAMESPACE, "ns:odd/{x}"]
      const services = namespaces.flatMap((namespace) =>
        ODD_NAMES.map((service) => ({ service, namespace })),
      )
      await Promise.all(
        services.map(({ service, namespace }, i) =>
          (i % 2 === 0 ? a : b).record(service, namespace, 1_000 + i),
        ),
      )
      for (const [i, { service, namespace }] of services.entries()) {
        const label = `lastActive(${JSON.stringify(service)}, ${JSON.stringify(namespace)})`
        expect(await (i % 2 === 0 ? b : a).lastActive(service, namespace), label).toBe(1_000 + i)
      }
      for (const { service, namespace } of services) {
        expect(await a.claimScaleDown(service, namespace, LONG_TTL_MS)).toBe(true)
        expect(await b.claimScaleDown(service, namespace, LONG_TTL_MS)).toBe(false)
      }
    })
  })
}

function byService(
  x: { name: string; namespace: string },
  y: { name: string; namespace: string },
): number {
  const a = JSON.stringify([x.namespace, x.name])
  const b = JSON.stringify([y.namespace, y.name])
  return a < b ? -1 : a > b ? 1 : 0
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

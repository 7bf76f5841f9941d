import { afterEach, describe, expect, it, vi } from "vitest"
import {
  clockFor,
  type FreshnessClock,
  freshnessClock,
  type Instant,
  millisecondClock,
  nanosecondClock,
  type Span,
} from "./clock.js"

afterEach(() => {
  vi.useRealTimers()
})

describe.each([
  ["nanoseconds (Node)", nanosecondClock as FreshnessClock<Instant>],
  ["milliseconds (Bun, Deno, Workers)", millisecondClock as FreshnessClock<Instant>],
])("the %s clock", (_name, clock) => {
  it("is fresh up to the expiry, stale up to the trusted age, then expired", () => {
    vi.useFakeTimers()
    const since = clock.now()
    const expiry = clock.span(100)
    const trusted = clock.span(400)
    vi.advanceTimersByTime(100)
    expect(clock.freshness(since, expiry, trusted)).toBe("fresh")
    vi.advanceTimersByTime(1)
    expect(clock.freshness(since, expiry, trusted)).toBe("stale")
    vi.advanceTimersByTime(299)
    expect(clock.freshness(since, expiry, trusted)).toBe("stale")
    vi.advanceTimersByTime(1)
    expect(clock.freshness(since, expiry, trusted)).toBe("expired")
  })

  it("is monotonic: a wall-clock step neither ages nor rejuvenates an instant", () => {
    vi.useFakeTimers({ now: 10_000 })
    const since = clock.now()
    const expiry = clock.span(1_000)
    vi.setSystemTime(10_000 + 3_600_000)
    expect(clock.freshness(since, expiry, expiry)).toBe("fresh")
    vi.advanceTimersByTime(1_001)
    vi.setSystemTime(10_000)
    expect(clock.freshness(since, expiry, expiry)).toBe("expired")
  })

  it("keeps a span of zero: fresh only at the instant itself", () => {
    vi.useFakeTimers()
    const since = clock.now()
    const zero = clock.span(0)
    expect(clock.freshness(since, zero, zero)).toBe("fresh")
    vi.advanceTimersByTime(1)
    expect(clock.freshness(since, zero, zero)).toBe("expired")
  })
})

describe("the nanosecond clock", () => {
  it("counts nanoseconds, rounding a fraction of a millisecond", () => {
    expect(nanosecondClock.span(250)).toBe(250_000_000n)
    expect(nanosecondClock.span(0.0015)).toBe(1_500n)
  })

  it("takes a span beyond 64 bits of nanoseconds as forever", () => {
    const forever = nanosecondClock.span(Number.MAX_VALUE)
    expect(forever).toBe(2n ** 63n - 1n)
    expect(nanosecondClock.freshness(nanosecondClock.now(), forever, forever)).toBe("fresh")
  })
})

describe("spans", () => {
  it("are made by the clock: a plain number of milliseconds does not type-check as one", () => {
    // On Node a span is nanoseconds: 500 would be 500 ns, silently (bigints compare with numbers).
    // @ts-expect-error a number of milliseconds is not a Span
    const milliseconds: Span = 500
    expect(freshnessClock.span(milliseconds as number)).not.toBe(milliseconds)
  })
})

describe("clockFor", () => {
  it("gives Node its nanosecond clock", () => {
    expect(clockFor({ process: { versions: { node: "20.20.2" } } })).toBe(nanosecondClock)
    // These tests run on Node.
    expect(freshnessClock).toBe(nanosecondClock)
  })

  it("gives runtimes that only look like Node, and the rest, milliseconds", () => {
    const bun = { process: { versions: { node: "24.3.0", bun: "1.4.5" } } }
    const deno = { process: { versions: { node: "26.3.0", deno: "2.9.6" } } }
    const workers = {
      process: { versions: { node: "22.14.0" } },
      navigator: { userAgent: "Cloudflare-Workers" },
    }
    for (const globals of [bun, deno, workers, {}]) {
      expect(clockFor(globals)).toBe(millisecondClock)
    }
  })
})

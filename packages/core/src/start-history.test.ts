import { describe, expect, it } from "vitest"
import { createStartHistory, pollSchedule } from "./start-history.js"

/** The elapsed times at which a schedule reads, until `untilMs`. */
const readsUntil = (next: (elapsedMs: number) => number, untilMs: number) => {
  const reads: number[] = []
  for (let at = next(0); at <= untilMs; at += next(at)) reads.push(at)
  return reads
}

describe("pollSchedule", () => {
  it("polls every interval while the service has no recorded cold start", () => {
    const next = pollSchedule([], 100)
    expect(readsUntil(next, 500)).toEqual([100, 200, 300, 400, 500])
  })

  it("reads sparsely before the recorded window, densely through it, back to the interval past it", () => {
    const next = pollSchedule([500, 500, 500], 100)
    // Window 450–550 ms (half an interval either side), guard band 400–450 ms.
    expect(readsUntil(next, 460)).toEqual([200, 400, 450])
    expect(next(450)).toBe(25)
    expect(next(549)).toBe(25)
    expect(next(600)).toBe(25)
    expect(next(650)).toBe(50)
    expect(next(800)).toBe(100)
  })

  it("widens the window by a tenth of a long start, with a guard band of plain polling before it", () => {
    const next = pollSchedule([3000], 100)
    expect(next(2200)).toBe(200)
    expect(next(2500)).toBe(100)
    expect(readsUntil(next, 2700).at(-1)).toBe(2700)
    expect(next(2700)).toBeLessThan(100)
  })

  it("reaches the median start with no more reads than plain polling", () => {
    for (const recorded of [[300], [480, 500, 530], [2900, 3000, 3100], [1000, 4000]]) {
      const median = [...recorded].sort((a, b) => a - b)[Math.floor((recorded.length - 1) / 2)]
      const next = pollSchedule(recorded, 100)
      const reads = readsUntil(next, median as number)
      expect(reads.length).toBeLessThanOrEqual(Math.ceil((median as number) / 100))
      expect(reads.at(-1)).toBeGreaterThan((median as number) - 100)
    }
  })
})

describe("createStartHistory", () => {
  it("records a cold start from the scale-up event to the ready event", () => {
    const history = createStartHistory()
    const event = { service: "api", namespace: "ns" }
    history.observe({ ...event, type: "scale-up", replicas: 1 })
    expect(history.recorded("api.ns")).toEqual([])
    history.observe({ ...event, type: "ready", durationMs: 0, waiting: 0 })
    expect(history.recorded("api.ns")).toHaveLength(1)
    expect(history.typical("api.ns")).toBe(history.recorded("api.ns")[0])
  })
})

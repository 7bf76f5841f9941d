import { describe, expect, it } from "vitest"
import { SingleFlight } from "./single-flight.js"

describe("SingleFlight", () => {
  it("shares one execution and its result between concurrent calls with one key", async () => {
    const flight = new SingleFlight()
    let executions = 0
    const fn = async () => {
      executions++
      await new Promise((resolve) => setTimeout(resolve, 10))
      return executions
    }
    const results = await Promise.all(Array.from({ length: 100 }, () => flight.do("k", fn)))
    expect(executions).toBe(1)
    expect(new Set(results)).toEqual(new Set([1]))
    expect(flight.size).toBe(0)
  })

  it("shares the error too, then runs afresh", async () => {
    const flight = new SingleFlight()
    let executions = 0
    const failing = async () => {
      executions++
      throw new Error("backend down")
    }
    const outcomes = await Promise.allSettled([flight.do("k", failing), flight.do("k", failing)])
    expect(executions).toBe(1)
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"])
    await expect(flight.do("k", async () => "ok")).resolves.toBe("ok")
  })

  it("runs different keys separately", async () => {
    const flight = new SingleFlight()
    const [a, b] = await Promise.all([
      flight.do("a", async () => "A"),
      flight.do("b", async () => "B"),
    ])
    expect([a, b]).toEqual(["A", "B"])
  })
})

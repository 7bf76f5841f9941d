import {
  InvalidServiceNameError,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  SCALING_FACTOR_LABEL,
} from "@scale-from-zero/core"
import { describe, expect, it } from "vitest"
import { closingQueries, serverService } from "../test/helpers.js"
import { createProcessServiceQuery, shutdownHooksInstalled } from "./index.js"

const { start } = closingQueries()
const ns = "default"

describe("options and service definitions", () => {
  it("reads the scale labels as every provider does: an unparsable one falls back to the default", async () => {
    const labels = {
      [MIN_SCALE_LABEL]: "two",
      [MAX_SCALE_LABEL]: "-3",
      [SCALING_FACTOR_LABEL]: "20",
    }
    const { query } = start({ services: { odd: serverService({}, { labels }) } })
    expect(await query.getReplicas("odd", ns)).toMatchObject({
      minReplicas: 1,
      maxReplicas: 5,
      scalingFactor: 20,
      labels,
    })
  })

  it("rejects bad definitions and replica counts with a clear error", async () => {
    expect(() => createProcessServiceQuery({ services: { "bad/name": serverService() } })).toThrow(
      InvalidServiceNameError,
    )
    expect(() => createProcessServiceQuery({ services: { a: { command: "" } } })).toThrow(
      'option services.a.command must be a non-empty string, got ""',
    )
    expect(() =>
      createProcessServiceQuery({ services: { a: serverService({}, { port: 70_000 }) } }),
    ).toThrow("option services.a.port must be a port 1-65535 or a range { from, to }")
    expect(() =>
      createProcessServiceQuery({
        services: { a: serverService({}, { readiness: { intervalMs: -1 } }) },
      }),
    ).toThrow("option services.a.readiness.intervalMs must be a positive number, got -1")
    expect(() =>
      createProcessServiceQuery({ services: { a: serverService({}, { replicas: 1.5 }) } }),
    ).toThrow("option services.a.replicas must be a non-negative integer number, got 1.5")
    expect(() => createProcessServiceQuery({ restartBackoff: { maxMs: 0 } })).toThrow(
      "option restartBackoff.maxMs must be a positive number, got 0",
    )
    expect(() =>
      createProcessServiceQuery({ stopGracePeriodMs: "5s" as unknown as number }),
    ).toThrow('option stopGracePeriodMs must be a positive number, got "5s"')
    expect(() => createProcessServiceQuery({ stdio: "pipe" as "ignore" })).toThrow(
      'option stdio must be "inherit" or "ignore", got "pipe"',
    )
    // The scale labels follow every provider's rules: a factor outside 1..100 is refused.
    expect(() =>
      createProcessServiceQuery({
        services: { a: serverService({}, { labels: { [SCALING_FACTOR_LABEL]: "0" } }) },
      }),
    ).toThrow(/services\.a\.labels: bad scaling factor/)
    expect(shutdownHooksInstalled()).toBe(false)

    const { query } = start({ services: { hello: serverService() } })
    await expect(query.setReplicas("hello", ns, -1)).rejects.toThrow(RangeError)
    await expect(query.setReplicas("hello", ns, 1.5)).rejects.toThrow(RangeError)
    expect(() => query.addService("hello", serverService())).toThrow("already exists")
  })
})

// Wake groups and graceful sleep through the core gate over real child processes.
import { createGate, type GateHold, type GatePass, type GateRequest } from "@scale-from-zero/core"
import { describe, expect, it } from "vitest"
import { closingQueries, getJson, isAlive, serverService } from "../test/helpers.js"

const { start } = closingQueries()

const request = (service: string): GateRequest => ({
  method: "GET",
  path: `/function/${service}/`,
  headers: new Headers(),
})

describe("groups and sleep over the process provider", () => {
  it("starts a service's dependency first and waits for the group; sleep drains, then stops it", async () => {
    const { query } = start({
      services: {
        db: serverService({ STARTUP_DELAY_MS: "300" }, { readiness: { httpPath: "/healthz" } }),
        api: serverService(
          { STARTUP_DELAY_MS: "100" },
          {
            readiness: { httpPath: "/healthz" },
            labels: { "scale-from-zero.depends-on": "db" },
          },
        ),
      },
    })
    const ready: string[] = []
    const gate = createGate({
      serviceQuery: query,
      functionPollInterval: 50,
      timeout: 10_000,
      onEvent: (event) => {
        if (event.type === "ready") ready.push(event.service)
      },
      scaleToZero: { allServices: true, idleAfterMs: 600_000 },
    })
    try {
      const hold = gate.admit(request("api")) as GateHold
      const pass = (await gate.wait(hold, new AbortController().signal)) as GatePass
      expect(pass.kind).toBe("pass")
      // The group's time: db's 300 ms start, then api's 100 ms.
      expect(pass.coldStartMs).toBeGreaterThanOrEqual(380)
      expect(ready).toEqual(["db", "api"])
      const api = query.endpoint("api")!
      const { pid } = await getJson(api)
      // A request in flight: the sleep waits for it.
      let slept: boolean | undefined
      const sleeping = gate.sleep("api", undefined, { drainMs: 5000 }).then((result) => {
        slept = result
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(slept).toBeUndefined()
      expect(isAlive(pid)).toBe(true)
      expect(gate.admit(request("api")).kind).toBe("hold")
      gate.finished(pass)
      await sleeping
      expect(slept).toBe(true)
      expect(await query.getReplicas("api", "default")).toMatchObject({ replicas: 0 })
      await expect.poll(() => isAlive(pid)).toBe(false)
      // Its dependency stays: nothing asked it to sleep, and it idles by its own rules.
      expect(await query.getReplicas("db", "default")).toMatchObject({ availableReplicas: 1 })
    } finally {
      gate.close()
    }
  })
})

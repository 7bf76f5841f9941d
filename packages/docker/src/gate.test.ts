// The core gate in front of a real engine: what a gateway's client sees when the engine dies mid-wait.
import { createGate, type GateHold } from "@scale-from-zero/core"
import {
  createContainer,
  removeContainers,
  requireEngine,
  startSpareService,
  uniqueName,
} from "@scale-from-zero/test-kit/podman"
import { afterAll, describe, expect, it } from "vitest"
import { createDockerServiceQuery, SERVICE_LABEL } from "./docker-service-query.js"

const skipReason = await requireEngine()

describe.skipIf(skipReason !== undefined)("a gate over the Docker provider", () => {
  const created: string[] = []
  afterAll(() => removeContainers(created))

  it.each([
    ["watching the event stream", true],
    ["polling", false],
  ])(
    "answers 502 naming the socket, not a hang, when the engine stops mid-wait (%s)",
    async (_, watch) => {
      const spare = await startSpareService("unix")
      const service = uniqueName(`stranded-${watch ? "watch" : "poll"}`)
      created.push(service)
      // Never healthy: the wait can only end by the engine going away (or the 15s timeout).
      await createContainer({
        name: service,
        labels: { [SERVICE_LABEL]: service },
        healthcheck: ["false"],
      })
      const serviceQuery = createDockerServiceQuery({ socketPath: spare.socketPath!, watch })
      const gate = createGate({ serviceQuery, functionPollInterval: 100, timeout: 15_000 })
      try {
        const hold = gate.admit({
          method: "GET",
          path: `/function/${service}/`,
          headers: new Headers(),
        }) as GateHold
        expect(hold.kind).toBe("hold")
        const waiting = gate.wait(hold, new AbortController().signal)
        await expect
          .poll(() => serviceQuery.getReplicas(service, "default").then((s) => s.replicas))
          .toBe(1)
        await new Promise((resolve) => setTimeout(resolve, 500)) // well into the readiness wait
        const killedAt = performance.now()
        await spare.kill()
        const verdict = await waiting
        expect(verdict).toMatchObject({ kind: "reply", status: 502 })
        expect(verdict.kind === "reply" && verdict.body).toContain(`unix://${spare.socketPath}`)
        // The scaler re-reads a watched service each second: the failed read ends the wait.
        expect(performance.now() - killedAt).toBeLessThan(watch ? 3000 : 1500)
        console.info(
          `podman: engine killed to 502 ${(performance.now() - killedAt).toFixed(0)}ms (${watch ? "watch" : "poll"})`,
        )
      } finally {
        gate.close()
        await serviceQuery.close()
        await spare.kill()
      }
    },
  )
})

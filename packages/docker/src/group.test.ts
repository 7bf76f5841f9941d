// Wake groups and graceful sleep through the core gate on a real engine (podman's Docker API).
import { createGate, type GateHold, type GatePass, type GateRequest } from "@scale-from-zero/core"
import {
  containerState,
  createContainer,
  PODMAN_SOCKET,
  removeContainers,
  requireEngine,
  uniqueName,
} from "@scale-from-zero/test-kit/podman"
import { afterAll, describe, expect, it } from "vitest"
import { createDockerServiceQuery, type DockerServiceQuery, SERVICE_LABEL } from "./index.js"

const skipReason = await requireEngine()

const request = (service: string): GateRequest => ({
  method: "GET",
  path: `/function/${service}/`,
  headers: new Headers({ accept: "application/json" }),
})

describe.skipIf(skipReason !== undefined)("groups and sleep over the Docker provider", () => {
  const created: string[] = []
  const queries: DockerServiceQuery[] = []
  afterAll(async () => {
    await Promise.all(queries.map((query) => query.close()))
    await removeContainers(created)
  })

  /** The engine's backend with every setReplicas logged, with its time. */
  const loggedQuery = () => {
    const query = createDockerServiceQuery({ socketPath: PODMAN_SOCKET, stopTimeoutSeconds: 2 })
    queries.push(query)
    const log: { service: string; replicas: number; at: number }[] = []
    const setReplicas = query.setReplicas.bind(query)
    query.setReplicas = (service, namespace, replicas, options) => {
      log.push({ service, replicas, at: performance.now() })
      return setReplicas(service, namespace, replicas, options)
    }
    return { query, log }
  }

  const service = async (prefix: string, labels: Record<string, string> = {}) => {
    const name = uniqueName(prefix)
    created.push(name)
    await createContainer({ name, labels: { [SERVICE_LABEL]: name, ...labels } })
    return name
  }

  it("wakes a service's dependency first for one request, and keeps it up past its dependent", async () => {
    const db = await service("db")
    const api = await service("api", { "scale-from-zero.depends-on": db })
    const { query, log } = loggedQuery()
    const ready: Record<string, number> = {}
    const gate = createGate({
      serviceQuery: query,
      functionPollInterval: 100,
      timeout: 30_000,
      onEvent: (event) => {
        if (event.type === "ready") ready[event.service] = performance.now()
      },
      scaleToZero: { allServices: true, idleAfterMs: 1500, checkIntervalMs: 100 },
    })
    try {
      const hold = gate.admit(request(api)) as GateHold
      expect(hold.kind).toBe("hold")
      const pass = (await gate.wait(hold, new AbortController().signal)) as GatePass
      expect(pass).toMatchObject({ kind: "pass" })
      gate.finished(pass)
      expect(await containerState(db)).toBe("running")
      expect(await containerState(api)).toBe("running")
      const up = log.filter((entry) => entry.replicas === 1)
      expect(up.map((entry) => entry.service)).toEqual([db, api])
      expect(up[1]!.at).toBeGreaterThanOrEqual(ready[db]!)
      // api idles first; db, woken first, is kept up while api is, and idles after it.
      await expect
        .poll(async () => containerState(db), { timeout: 15_000, interval: 200 })
        .toBe("exited")
      const down = log.filter((entry) => entry.replicas === 0)
      expect(down.map((entry) => entry.service)).toEqual([api, db])
      expect(down[1]!.at - down[0]!.at).toBeGreaterThanOrEqual(1000)
      console.info(
        `podman: group of two woken in ${(ready[api]! - up[0]!.at).toFixed(0)}ms; db down ${(down[1]!.at - down[0]!.at).toFixed(0)}ms after api`,
      )
    } finally {
      gate.close()
    }
  })

  it("gate.sleep drains a request in flight, scales down once, and a request meanwhile wakes it again", async () => {
    const web = await service("web")
    const { query, log } = loggedQuery()
    const gate = createGate({
      serviceQuery: query,
      functionPollInterval: 100,
      timeout: 30_000,
      scaleToZero: { allServices: true, idleAfterMs: 600_000 },
    })
    try {
      const first = (await gate.wait(
        gate.admit(request(web)) as GateHold,
        new AbortController().signal,
      )) as GatePass
      expect(first.kind).toBe("pass")
      let slept: boolean | undefined
      const sleeping = gate.sleep(web, undefined, { drainMs: 10_000 }).then((result) => {
        slept = result
      })
      await new Promise((resolve) => setTimeout(resolve, 300))
      // Still draining: the request in flight holds the container up; a new one is held.
      expect(slept).toBeUndefined()
      expect(await containerState(web)).toBe("running")
      const next = gate.admit(request(web))
      expect(next.kind).toBe("hold")
      const again = gate.wait(next as GateHold, new AbortController().signal)
      gate.finished(first)
      await sleeping
      expect(slept).toBe(true)
      expect(await again).toMatchObject({ kind: "pass" })
      expect(await containerState(web)).toBe("running")
      expect(log.map((entry) => entry.replicas)).toEqual([1, 0, 1])
    } finally {
      gate.close()
    }
  })
})

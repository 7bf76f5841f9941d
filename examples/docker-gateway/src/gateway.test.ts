// The example end to end on a real engine (podman): a busybox httpd container, stopped, woken by
// 100 concurrent requests through the gateway, then stopped again once idle.
import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import type { ScalingEvent, ServiceQuery } from "@scale-from-zero/core"
import { createDockerServiceQuery, SERVICE_LABEL } from "@scale-from-zero/docker"
import {
  containerState,
  createContainer,
  freePort,
  healthNudger,
  PODMAN_SOCKET,
  removeContainers,
  requireEngine,
  uniqueName,
} from "@scale-from-zero/test-kit/podman"
import { afterAll, describe, expect, it } from "vitest"
import { createDockerGateway, UPSTREAM_LABEL } from "./gateway.js"

const skipReason = await requireEngine()

describe.skipIf(skipReason !== undefined)("the docker gateway example on podman", () => {
  const created: string[] = []
  afterAll(() => removeContainers(created))

  it("wakes a stopped httpd container for 100 concurrent requests with one start, then stops it when idle", async () => {
    const service = uniqueName("httpd")
    const port = await freePort()
    created.push(service)
    await createContainer({
      name: service,
      port,
      labels: {
        [SERVICE_LABEL]: service,
        [UPSTREAM_LABEL]: `http://127.0.0.1:${port}`,
        "com.openfaas.scale.zero": "true",
        "com.openfaas.scale.zero-duration": "1s",
      },
      healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}/`],
    })
    expect(await containerState(service)).toBe("created")

    const docker = createDockerServiceQuery({ socketPath: PODMAN_SOCKET, stopTimeoutSeconds: 2 })
    const calls = { setReplicas: [] as number[] }
    const counted: ServiceQuery = Object.create(docker, {
      setReplicas: {
        value: (...args: Parameters<ServiceQuery["setReplicas"]>) => {
          calls.setReplicas.push(args[2])
          return docker.setReplicas(...args)
        },
      },
    })
    const events: ScalingEvent[] = []
    const gateway = createDockerGateway({
      serviceQuery: counted,
      timeout: 15_000,
      scaleToZero: { checkIntervalMs: 100 },
      onEvent: (event) => events.push(event),
    })
    const server = serve({ fetch: gateway.app.fetch, port: 0, hostname: "127.0.0.1" })
    await new Promise((resolve) => server.once("listening", resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    // Podman runs no healthcheck timer here: this plays its part.
    const nudger = healthNudger(`${SERVICE_LABEL}=${service}`)
    try {
      const started = performance.now()
      const responses = await Promise.all(
        Array.from({ length: 100 }, () => fetch(`${base}/function/${service}/index.html`)),
      )
      const coldMs = performance.now() - started
      const bodies = await Promise.all(responses.map((response) => response.text()))
      expect(responses.map((response) => response.status)).toEqual(Array(100).fill(200))
      expect(new Set(bodies)).toEqual(new Set(["hello from busybox\n"]))
      expect(responses[0]?.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
      expect(calls.setReplicas).toEqual([1])
      expect(events.filter((event) => event.type === "scale-up")).toHaveLength(1)
      expect(await containerState(service)).toBe("running")

      const warm = await fetch(`${base}/function/${service}/`)
      expect(warm.status).toBe(200)
      expect(warm.headers.get("server-timing")).toBeNull()
      expect(await warm.text()).toBe("hello from busybox\n")

      // Idle for its zero-duration (1s): the gateway stops it.
      const idleSince = performance.now()
      await expect
        .poll(() => containerState(service), { timeout: 10_000, interval: 100 })
        .toBe("exited")
      const stoppedMs = performance.now() - idleSince
      const readyMs = events.find((event) => event.type === "ready")?.durationMs
      expect(calls.setReplicas).toEqual([1, 0])
      // The container shows exited a moment before the engine answers the stop call.
      await expect
        .poll(() => events.find((event) => event.type === "scale-down"), { timeout: 5_000 })
        .toMatchObject({ service })
      console.info(
        `podman via gateway: 100 concurrent cold requests served in ${coldMs.toFixed(0)}ms (ready event after ${readyMs}ms, first ${responses[0]?.headers.get("server-timing")}); stopped ${stoppedMs.toFixed(0)}ms after the last response (zero-duration 1s)`,
      )

      // And woken again by the next request.
      const again = await fetch(`${base}/function/${service}/`)
      expect(again.status).toBe(200)
      expect(calls.setReplicas).toEqual([1, 0, 1])
    } finally {
      await nudger.stop()
      await gateway.close()
      await docker.close()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it("answers 404 for a service no container carries, without touching the engine's containers", async () => {
    const gateway = createDockerGateway({ docker: { socketPath: PODMAN_SOCKET } })
    try {
      const response = await gateway.app.request(`/function/${uniqueName("nobody")}/`)
      expect(response.status).toBe(404)
      expect(await response.text()).toMatch(/^error finding function sfz-nobody-\w+\.default/)
    } finally {
      await gateway.close()
    }
  })
})

import { fileURLToPath } from "node:url"
import {
  type FaasProviderSimulator,
  startFaasProviderSimulator,
} from "@scale-from-zero/test-kit/faas-provider-simulator"
import {
  type Runtime,
  type RuntimeServer,
  requireRuntime,
  startRuntimeServer,
} from "@scale-from-zero/test-kit/runtimes"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

// The example gateway, started as its README says, under the real runtime (Deno.serve, Bun.serve),
// in front of the faas-provider simulator.
const folder = fileURLToPath(new URL("..", import.meta.url))
const commands: Record<Runtime, string[]> = {
  deno: [
    "run",
    "--allow-net",
    "--allow-env",
    "--unstable-no-legacy-abort",
    "--conditions=source",
    "--sloppy-imports",
    "src/deno.ts",
  ],
  bun: ["--conditions=source", "src/bun.ts"],
}
const credentials = { user: "admin", password: "example-secret" }

for (const runtime of ["deno", "bun"] as const) {
  const binary = requireRuntime(runtime)
  describe.skipIf(binary === undefined)(`the ${runtime} gateway`, () => {
    let simulator: FaasProviderSimulator
    let gateway: RuntimeServer

    beforeAll(async () => {
      simulator = await startFaasProviderSimulator({
        basicAuth: credentials,
        startupDelayMs: 200,
      })
      simulator.addFunction("figlet", "openfaas-fn")
      simulator.addFunction("env", "team-a")
      simulator.addFunction("gzipped", "openfaas-fn", { replicas: 1, gzip: true })
      gateway = await startRuntimeServer(binary!, commands[runtime], {
        cwd: folder,
        env: {
          PORT: "0",
          OPENFAAS_URL: simulator.url,
          OPENFAAS_USER: credentials.user,
          OPENFAAS_PASSWORD: credentials.password,
        },
      })
    }, 60_000)

    afterAll(async () => {
      await gateway?.stop()
      await simulator?.close()
    })

    it("holds a request for a function at zero, scales it once and forwards it", async () => {
      const cold = await fetch(`${gateway.url}/function/figlet/hello?x=1`)
      expect(cold.status).toBe(200)
      expect(await cold.text()).toBe("hello from figlet.openfaas-fn (/function/figlet/hello?x=1)")
      expect(cold.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
      const warm = await fetch(`${gateway.url}/function/figlet`)
      expect(warm.status).toBe(200)
      expect(warm.headers.get("server-timing")).toBeNull()
      expect(simulator.counters).toMatchObject({ scale: 1, invoke: 2, unauthorized: 0 })
    })

    it("wakes a function once for concurrent requests and forwards each body", async () => {
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(`${gateway.url}/function/env.team-a`, { method: "POST", body: `request ${i}` }),
        ),
      )
      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200))
      expect(await Promise.all(responses.map((response) => response.text()))).toEqual(
        Array.from(
          { length: 20 },
          (_, i) => `hello from env.team-a (/function/env.team-a): request ${i}`,
        ),
      )
      expect(simulator.counters.scale).toBe(2)
    })

    it("hands a gzip-compressed answer on as what it is", async () => {
      // Node's fetch asks for gzip and decodes what says it is gzip: a body decoded by the
      // runtime but still labelled gzip fails here.
      const response = await fetch(`${gateway.url}/function/gzipped`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe("hello from gzipped.openfaas-fn (/function/gzipped)")
    })

    it("answers 404 for an unknown function and 400 for an invalid name", async () => {
      const unknown = await fetch(`${gateway.url}/function/nope`)
      expect(unknown.status).toBe(404)
      expect(await unknown.text()).toContain("error finding function nope.openfaas-fn")
      const invalid = await fetch(`${gateway.url}/function/bad$name`)
      expect(invalid.status).toBe(400)
      await invalid.body?.cancel()
    })

    it("answers 502 when the provider cannot be reached for a ready function", async () => {
      const provider = await startFaasProviderSimulator()
      provider.addFunction("lost", "openfaas-fn", { replicas: 1 })
      const second = await startRuntimeServer(binary!, commands[runtime], {
        cwd: folder,
        env: { PORT: "0", OPENFAAS_URL: provider.url },
      })
      try {
        expect((await fetch(`${second.url}/function/lost`)).status).toBe(200)
        await provider.close() // the function is still cached as ready
        const response = await fetch(`${second.url}/function/lost`)
        expect(response.status).toBe(502)
        expect(await response.text()).toContain("cannot reach the provider")
        expect(second.stderr()).toBe("")
      } finally {
        await second.stop()
      }
    })

    it("prints no runtime warning", () => {
      expect(gateway.stderr()).toBe("")
    })
  })
}

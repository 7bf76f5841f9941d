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
import { readSettings } from "./app.js"

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

describe("readSettings", () => {
  const read = (env: Record<string, string>) => readSettings((name) => env[name])

  it("strips the trailing slashes of OPENFAAS_URL, since paths are appended to it", () => {
    expect(read({ OPENFAAS_URL: "http://provider:8080/" }).providerUrl).toBe("http://provider:8080")
    expect(read({ OPENFAAS_URL: "http://gw/openfaas//" }).providerUrl).toBe("http://gw/openfaas")
    expect(read({}).providerUrl).toBe("http://127.0.0.1:8080")
  })

  it("reads function_namespace, and upstream_timeout as seconds or a duration", () => {
    expect(read({})).toEqual({ providerUrl: "http://127.0.0.1:8080" })
    expect(read({ function_namespace: "team-a", upstream_timeout: "65" })).toMatchObject({
      functionNamespace: "team-a",
      timeoutMs: 65_000,
    })
    expect(read({ upstream_timeout: "1m5s" }).timeoutMs).toBe(65_000)
    expect(read({ upstream_timeout: "500ms" }).timeoutMs).toBe(500)
    for (const bad of ["soon", "-5", "0", "1.5"]) {
      expect(() => read({ upstream_timeout: bad }), bad).toThrow(
        `upstream_timeout must be seconds or a duration such as 1m30s, got "${bad}"`,
      )
    }
  })
})

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
          // As often written: a trailing slash must not make the upstream path `//function/…`.
          OPENFAAS_URL: `${simulator.url}/`,
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

    it("answers /healthz itself, before the scaling middleware", async () => {
      const reads = simulator.requests.length
      for (const method of ["GET", "HEAD"]) {
        const response = await fetch(`${gateway.url}/healthz`, { method })
        expect(response.status).toBe(200)
        expect(await response.text()).toBe(method === "GET" ? "OK" : "")
      }
      expect(simulator.requests.length).toBe(reads)
    })

    it("wakes /function/NAME in function_namespace, holding a request upstream_timeout at most", async () => {
      const provider = await startFaasProviderSimulator({ startupDelayMs: 1_500 })
      provider.addFunction("env", "team-b")
      const second = await startRuntimeServer(binary!, commands[runtime], {
        cwd: folder,
        env: {
          PORT: "0",
          OPENFAAS_URL: provider.url,
          function_namespace: "team-b",
          upstream_timeout: "300ms",
        },
      })
      try {
        // Found in team-b (openfaas-fn has no env: 404), and given up on after 300 ms, not 1.5 s.
        const held = await fetch(`${second.url}/function/env`)
        expect(held.status).toBe(504)
        await held.body?.cancel()
        expect(provider.status("env", "team-b")?.replicas).toBe(1)
        // The wake goes on; the provider routes by its own default namespace, so this one is named.
        let ready = await fetch(`${second.url}/function/env.team-b/x`)
        for (let attempt = 0; attempt < 30 && ready.status !== 200; attempt++) {
          await ready.body?.cancel()
          ready = await fetch(`${second.url}/function/env.team-b/x`)
        }
        expect(ready.status).toBe(200)
        expect(await ready.text()).toBe("hello from env.team-b (/function/env.team-b/x)")
        expect(second.stderr()).toBe("")
      } finally {
        await second.stop()
        await provider.close()
      }
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
        // A request with a body is sent once: the proxy's own answer.
        const posted = await fetch(`${second.url}/function/lost`, { method: "POST", body: "x" })
        expect(posted.status).toBe(502)
        expect(await posted.text()).toContain("cannot reach the provider")
        // A bodyless one is held again, and the gate finds the provider gone.
        const response = await fetch(`${second.url}/function/lost`)
        expect(response.status).toBe(502)
        expect(await response.text()).toMatch(
          /^error scaling function lost\.openfaas-fn: .*could not be reached/,
        )
        expect(second.stderr()).toBe("")
      } finally {
        await second.stop()
      }
    })

    it("holds again a request refused by a function scaled to zero behind its back, and sends it once more", async () => {
      const provider = await startFaasProviderSimulator({ startupDelayMs: 200 })
      provider.addFunction("idled", "openfaas-fn", { replicas: 1 })
      const second = await startRuntimeServer(binary!, commands[runtime], {
        cwd: folder,
        env: { PORT: "0", OPENFAAS_URL: provider.url },
      })
      const invocations = () =>
        provider.requests.filter((request) => request.target.startsWith("/function/idled")).length
      // OpenFaaS's idler, say: the gateway still has the function cached as ready.
      const scaleToZeroBehindItsBack = () =>
        fetch(`${provider.url}/system/scale-function/idled`, {
          method: "POST",
          body: JSON.stringify({ serviceName: "idled", replicas: 0 }),
        })
      try {
        expect((await fetch(`${second.url}/function/idled/first`)).status).toBe(200)
        expect((await scaleToZeroBehindItsBack()).status).toBe(202)
        expect(provider.status("idled", "openfaas-fn")).toEqual({
          replicas: 0,
          availableReplicas: 0,
        })
        const woken = await fetch(`${second.url}/function/idled/again`)
        expect(woken.status).toBe(200)
        expect(await woken.text()).toBe("hello from idled.openfaas-fn (/function/idled/again)")
        expect(woken.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
        // The first, the refused one (503 from the provider) and its one re-send.
        expect(invocations()).toBe(3)
        expect(provider.counters.scale).toBe(2)
        // A request with a body is streamed once: the refusal is the answer.
        expect((await scaleToZeroBehindItsBack()).status).toBe(202)
        const posted = await fetch(`${second.url}/function/idled`, { method: "POST", body: "x" })
        expect(posted.status).toBe(503)
        await posted.body?.cancel()
        expect(second.stderr()).toBe("")
      } finally {
        await second.stop()
        await provider.close()
      }
    })

    it("prints no runtime warning", () => {
      expect(gateway.stderr()).toBe("")
    })
  })
}

import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import {
  type FaasProviderSimulator,
  startFaasProviderSimulator,
} from "@scale-from-zero/test-kit/faas-provider-simulator"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { createGateway } from "./app.js"
import { readGatewayConfig } from "./config.js"

const credentials = { user: "admin", password: "gateway-secret" }

let simulator: FaasProviderSimulator
let secrets: string

beforeAll(() => {
  // The OpenFaaS way: a mounted secret holding basic-auth-user and basic-auth-password.
  secrets = mkdtempSync(join(tmpdir(), "sfz-gateway-secrets-"))
  writeFileSync(join(secrets, "basic-auth-user"), `${credentials.user}\n`)
  writeFileSync(join(secrets, "basic-auth-password"), `${credentials.password}\n`)
})

afterAll(() => {
  rmSync(secrets, { recursive: true, force: true })
})

beforeEach(async () => {
  simulator = await startFaasProviderSimulator({ basicAuth: credentials, startupDelayMs: 200 })
  simulator.addFunction("figlet", "openfaas-fn")
  simulator.addFunction("env", "team-a")
})

afterEach(async () => {
  await simulator.close()
})

describe("the Koa gateway in front of the faas-provider simulator", () => {
  let server: Server
  let base: string
  let closeGate: () => void

  beforeEach(async () => {
    const config = readGatewayConfig({
      functions_provider_url: simulator.url,
      basic_auth: "true",
      secret_mount_path: secrets,
      upstream_timeout: "5s",
    })
    const { app, gate } = createGateway(config)
    closeGate = () => gate.close()
    server = app.listen(0, "127.0.0.1")
    await new Promise((resolve) => server.once("listening", resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterEach(async () => {
    closeGate()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it("holds a request for a function at zero, scales it up and forwards it once available", async () => {
    const start = performance.now()
    const response = await fetch(`${base}/function/figlet/render?text=hi`)
    const elapsed = performance.now() - start
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(
      "hello from figlet.openfaas-fn (/function/figlet/render?text=hi)",
    )
    expect(response.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
    expect(elapsed).toBeGreaterThanOrEqual(200)
    expect(simulator.counters).toMatchObject({ scale: 1, invoke: 1, unauthorized: 0 })

    const warm = await fetch(`${base}/function/figlet`)
    expect(warm.status).toBe(200)
    expect(warm.headers.get("server-timing")).toBeNull()
    expect(simulator.counters.scale).toBe(1)
  })

  it("wakes a function once for many concurrent requests, and forwards each body", async () => {
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        fetch(`${base}/function/env.team-a`, { method: "POST", body: `request ${i}` }),
      ),
    )
    const bodies = await Promise.all(responses.map((response) => response.text()))
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200))
    expect(bodies).toEqual(
      Array.from(
        { length: 8 },
        (_, i) => `hello from env.team-a (/function/env.team-a): request ${i}`,
      ),
    )
    expect(simulator.counters.scale).toBe(1)
  })

  it("answers 404 for a function the provider does not know, and never forwards it", async () => {
    const response = await fetch(`${base}/function/missing`)
    expect(response.status).toBe(404)
    expect(await response.text()).toContain("error finding function missing.openfaas-fn")
    expect(simulator.counters.invoke).toBe(0)
  })

  it("answers 502 when the provider fails, and 400 for a name no provider could hold", async () => {
    simulator.injectFault({ status: 500, body: "provider down" })
    expect((await fetch(`${base}/function/figlet`)).status).toBe(502)
    expect((await fetch(`${base}/function/bad%20name`)).status).toBe(400)
    expect(simulator.counters.invoke).toBe(0)
  })

  it("serves /healthz and leaves other paths alone", async () => {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe("OK")
    expect((await fetch(`${base}/system/functions`)).status).toBe(404)
    expect(simulator.requests).toHaveLength(0)
  })
})

describe("npm start", () => {
  let child: ChildProcess | undefined

  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once("exit", resolve))
      child.kill("SIGKILL")
      await exited
    }
  })

  it("starts from the environment, scales a function from zero, and stops on SIGTERM", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    // What `npm start` runs, without npm in between so the signal reaches the gateway.
    child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/main.ts"], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        PORT: "0",
        functions_provider_url: simulator.url,
        basic_auth: "true",
        secret_mount_path: secrets,
      },
      stdio: ["ignore", "pipe", "pipe"],
    })
    const started = child
    const port = await new Promise<number>((resolve, reject) => {
      let output = ""
      const timer = setTimeout(() => reject(new Error(`no start within 15s: ${output}`)), 15_000)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        const match = /gateway on 127\.0\.0\.1:(\d+)|gateway on :(\d+)/.exec(output)
        if (match) {
          clearTimeout(timer)
          started.stdout?.off("data", onData)
          resolve(Number(match[1] ?? match[2]))
        }
      }
      started.stdout?.on("data", onData)
      started.stderr?.on("data", (chunk: Buffer) => {
        output += chunk.toString()
      })
      started.once("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`exited with ${code}: ${output}`))
      })
    })
    const response = await fetch(`http://127.0.0.1:${port}/function/figlet`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("hello from figlet.openfaas-fn (/function/figlet)")
    expect(simulator.counters).toMatchObject({ scale: 1, unauthorized: 0 })

    const exit = new Promise<number | null>((resolve) => started.once("exit", resolve))
    started.kill("SIGTERM")
    expect(await exit).toBe(0)
  })
})

import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { request, type Server } from "node:http"
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

/** Runs what `npm start` runs, without npm in between so signals reach the gateway. */
function startMain(env: Record<string, string>) {
  const root = fileURLToPath(new URL("..", import.meta.url))
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      PORT: "0",
      functions_provider_url: simulator.url,
      basic_auth: "true",
      secret_mount_path: secrets,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  })
  const started = new Promise<{ port: number; line: string }>((resolve, reject) => {
    let output = ""
    const timer = setTimeout(() => reject(new Error(`no start within 15s: ${output}`)), 15_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /gateway on :(\d+).*/.exec(output)
      if (match) {
        clearTimeout(timer)
        child.stdout?.off("data", onData)
        resolve({ port: Number(match[1]), line: match[0] })
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code}: ${output}`))
    })
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
  return { child, started, exited }
}

/** One request on a connection of its own, so that the cluster hands it to the next worker. */
function fresh(url: string): Promise<{ status: number; coldStart: boolean }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { agent: false })
    outgoing.once("error", reject)
    outgoing.once("response", (incoming) => {
      incoming.resume()
      incoming.once("end", () =>
        resolve({
          status: incoming.statusCode ?? 0,
          coldStart: String(incoming.headers["server-timing"]).includes("cold-start"),
        }),
      )
    })
    outgoing.end()
  })
}

/** Bytes a process has written (sockets included): a worker that serves requests writes. */
const bytesWritten = (pid: number) =>
  Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1])

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("npm start", () => {
  let child: ChildProcess | undefined
  let workerPids: number[] = []

  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once("exit", resolve))
      child.kill("SIGKILL")
      await exited
    }
    for (const pid of workerPids.splice(0)) if (isAlive(pid)) process.kill(pid, "SIGKILL")
  })

  it("starts from the environment, scales a function from zero, and stops on SIGTERM", async () => {
    const main = startMain({})
    child = main.child
    const { port } = await main.started
    const response = await fetch(`http://127.0.0.1:${port}/function/figlet`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("hello from figlet.openfaas-fn (/function/figlet)")
    expect(simulator.counters).toMatchObject({ scale: 1, unauthorized: 0 })

    main.child.kill("SIGTERM")
    expect(await main.exited).toBe(0)
  })

  it("with GATEWAY_WORKERS=2, two workers act as one gateway, and SIGTERM stops them all", async () => {
    const main = startMain({ GATEWAY_WORKERS: "2" })
    child = main.child
    const { port, line } = await main.started
    workerPids = /\(2 workers: (\d+), (\d+)\)/.exec(line)?.slice(1).map(Number) ?? []
    expect(workerPids).toHaveLength(2)
    const url = `http://127.0.0.1:${port}/function/figlet`

    // Cold requests over both workers: held, then released together after one scale call.
    const cold = await Promise.all(Array.from({ length: 6 }, () => fresh(url)))
    expect(cold).toEqual(cold.map(() => ({ status: 200, coldStart: true })))
    expect(simulator.counters).toMatchObject({ scale: 1, unauthorized: 0 })

    // Warm requests: each worker serves its share.
    const before = workerPids.map(bytesWritten)
    const warm = await Promise.all(Array.from({ length: 40 }, () => fresh(url)))
    expect(warm.every((answer) => answer.status === 200 && !answer.coldStart)).toBe(true)
    const written = workerPids.map((pid, i) => bytesWritten(pid) - (before[i] ?? 0))
    for (const bytes of written) expect(bytes).toBeGreaterThan(10 * 100) // ≥ 10 answers each
    expect(simulator.counters.scale).toBe(1)

    main.child.kill("SIGTERM")
    expect(await main.exited).toBe(0)
    expect(workerPids.filter(isAlive)).toEqual([])
  })

  it("stops with code 1 when its workers cannot listen", async () => {
    // The port is taken: every worker fails to listen.
    const blocker = (await import("node:net")).createServer().listen(0, "127.0.0.1")
    await new Promise((resolve) => blocker.once("listening", resolve))
    try {
      const taken = (blocker.address() as AddressInfo).port
      const main = startMain({ GATEWAY_WORKERS: "2", PORT: String(taken) })
      child = main.child
      main.started.catch(() => {})
      expect(await main.exited).toBe(1)
    } finally {
      blocker.close()
    }
  })
})

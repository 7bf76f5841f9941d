import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { eventually, isAlive } from "@scale-from-zero/test-kit/processes"
// The Redis the redis package's tests use (.ci/setup-redis.sh), found and required the same way.
import { REDIS_URL, requireRedis } from "@scale-from-zero/test-kit/redis-server"
import { afterEach, describe, expect, it } from "vitest"
import { createGateways } from "./gateways.js"

const IDLE_AFTER_MS = 600

type Gateways = ReturnType<typeof createGateways>
const running: { gateways: Gateways; servers: Server[] }[] = []

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function startGateways() {
  const lines: string[] = []
  const gateways = createGateways({
    redisUrl: REDIS_URL,
    keyPrefix: `sfz-test:${randomBytes(6).toString("hex")}:`,
    idleAfterMs: IDLE_AFTER_MS,
    log: (line: string) => lines.push(line),
  })
  const servers = gateways.instances.map((instance) => instance.app.listen(0, "127.0.0.1"))
  running.push({ gateways, servers })
  await Promise.all(servers.map((server) => new Promise((r) => server.once("listening", r))))
  const bases = servers.map(
    (server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  )
  const hello = async (index: 0 | 1) => {
    const response = await fetch(`${bases[index]}/function/hello`)
    const body = (await response.json()) as { pid: number }
    return { response, pid: body.pid }
  }
  return { gateways, lines, hello }
}

afterEach(async () => {
  for (const { gateways, servers } of running.splice(0)) {
    for (const server of servers) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
    await gateways.close()
  }
})

const skipReason = await requireRedis()

describe.skipIf(skipReason !== undefined)("two gateways sharing activity in Redis", () => {
  it("never stops a service busy through A on B's idle check; once idle on both, one stops it", async () => {
    const { gateways, lines, hello } = await startGateways()
    const scaleDowns = () => lines.filter((line) => line.includes("→ scaled to 0"))

    // B wakes hello; from then on only A is used, for three times the idle time.
    const cold = await hello(1)
    expect(cold.response.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
    const busyUntil = Date.now() + 3 * IDLE_AFTER_MS
    while (Date.now() < busyUntil) {
      const warm = await hello(0)
      expect(warm.response.status).toBe(200)
      expect(warm.pid).toBe(cold.pid)
      await sleep(100)
    }
    expect(scaleDowns()).toEqual([])
    expect(isAlive(cold.pid)).toBe(true)
    expect(gateways.services.status("hello").replicas).toBe(1)

    // Idle on both: stopped, by one instance only.
    await eventually("hello scaled down", () => scaleDowns()[0], 10 * IDLE_AFTER_MS)
    await eventually("hello stopped", () => (isAlive(cold.pid) ? undefined : true))
    await sleep(IDLE_AFTER_MS) // both instances' checks have run again since
    expect(scaleDowns()).toHaveLength(1)
    expect(scaleDowns()[0]).toMatch(/^gateway [AB]: hello: idle on every instance for /)
    expect(lines.filter((line) => line.startsWith("hello: stopping pid"))).toHaveLength(1)
    expect(lines.filter((line) => line.includes(": error: "))).toEqual([])

    // Either instance wakes it again.
    const again = await hello(0)
    expect(again.response.headers.get("server-timing")).toMatch(/^cold-start/)
    expect(again.pid).not.toBe(cold.pid)
  }, 20_000)

  it("npm start: both gateways answer, and Ctrl-C leaves no service process behind", async () => {
    const main = fileURLToPath(new URL("./main.js", import.meta.url))
    const child: ChildProcess = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", main],
      {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        env: { ...process.env, PORT: "0", REDIS_URL, IDLE_AFTER: "1m" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    )
    try {
      const output: string[] = []
      createInterface({ input: child.stdout! }).on("line", (line) => output.push(line))
      await eventually(
        "hints printed",
        () => (output.some((l) => l.includes("Ctrl-C")) ? true : undefined),
        15_000,
      )
      const base = (id: string) =>
        output.find((l) => l.startsWith(`gateway ${id} on `))?.slice(`gateway ${id} on `.length)
      const viaB = (await (await fetch(`${base("B")}/function/hello`)).json()) as { pid: number }
      const viaA = (await (await fetch(`${base("A")}/function/hello`)).json()) as { pid: number }
      expect(viaA.pid).toBe(viaB.pid)
      expect(isAlive(viaA.pid)).toBe(true)
      const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)))
      child.kill("SIGINT")
      expect(await exited).toBe(0)
      expect(isAlive(viaA.pid)).toBe(false)
    } finally {
      child.kill("SIGKILL")
    }
  }, 20_000)
})

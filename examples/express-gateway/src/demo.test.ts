// `npm run demo` as a newcomer runs it, from the repository root: the real npm, the real script.
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, type Server } from "node:net"
import { fileURLToPath } from "node:url"
import { descendants, eventually, isAlive } from "@scale-from-zero/test-kit/processes"
import { afterEach, describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../../..", import.meta.url))
const started: ChildProcess[] = []
const leftovers = new Set<number>()

/** `npm run demo` with `env` added; its output is collected as it comes. */
function runDemo(env: Record<string, string>) {
  const npm = spawn("npm", ["run", "demo"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  started.push(npm)
  const output = { stdout: "", stderr: "" }
  npm.stdout?.on("data", (chunk) => {
    output.stdout += chunk
  })
  npm.stderr?.on("data", (chunk) => {
    output.stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once("exit", (code, signal) => resolve({ code, signal })),
  )
  return { npm, output, exited }
}

afterEach(() => {
  // Whatever a failed test left behind goes, so no later test (or machine) inherits it.
  for (const npm of started.splice(0)) {
    if (npm.pid !== undefined) for (const pid of descendants(npm.pid)) leftovers.add(pid)
    npm.kill("SIGKILL")
  }
  for (const pid of leftovers) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {}
  }
  leftovers.clear()
})

describe("npm run demo", () => {
  it("on a taken port says so in one line and exits 1", async () => {
    const taken: Server = createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const demo = runDemo({ PORT: String(port) })
      expect(await demo.exited).toEqual({ code: 1, signal: null })
      expect(demo.output.stderr).toBe(`port ${port} is in use; try PORT=${port + 1} npm run demo\n`)
      expect(demo.output.stdout).not.toMatch(/Error|at /)
    } finally {
      taken.close()
    }
  }, 60_000)

  it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)(
    "stops the gateway and every replica when the npm process gets %s",
    async (signal) => {
      const demo = runDemo({ PORT: "0" })
      const base = await eventually(
        "the gateway's address",
        () => /gateway on (http:\/\/\S+)/.exec(demo.output.stdout)?.[1],
        45_000,
      )
      // Both services started: a gateway with replicas, as after the README's curls.
      for (const service of ["hello", "echo"]) {
        expect((await fetch(`${base}/function/${service}`)).status).toBe(200)
      }
      const status = (await (await fetch(`${base}/`)).json()) as { pids: number[] }[]
      const replicas = status.flatMap((service) => service.pids)
      expect(replicas).toHaveLength(2)
      const npmPid = demo.npm.pid as number
      const below = descendants(npmPid)
      for (const pid of replicas) expect(below).toContain(pid)
      for (const pid of below) leftovers.add(pid)

      process.kill(npmPid, signal)
      await demo.exited
      await eventually(
        `every process the demo started gone after ${signal}`,
        () => (below.every((pid) => !isAlive(pid)) ? true : undefined),
        10_000,
      )
      expect(demo.output.stdout).toMatch(/stopping the gateway and its services/)
    },
    60_000,
  )
})

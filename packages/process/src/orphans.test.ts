import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { eventually, isAlive } from "../test/helpers.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const GATEWAY = fileURLToPath(new URL("../test/fixtures/gateway.ts", import.meta.url))

const gateways: ChildProcess[] = []
const started: number[] = []

afterEach(() => {
  // Whatever a failed test left behind is not left for the next one.
  for (const gateway of gateways.splice(0)) gateway.kill("SIGKILL")
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone, as it should be
    }
  }
})

/**
 * Runs the gateway fixture as its own process (TypeScript from source through tsx) and
 * resolves once it reports the pids of the replica it started and of that replica's child.
 */
async function startGateway(env: Record<string, string> = {}) {
  const gateway = spawn(process.execPath, ["--conditions=source", "--import", "tsx", GATEWAY], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  gateways.push(gateway)
  let stderr = ""
  gateway.stderr!.on("data", (chunk) => {
    stderr += chunk
  })
  const exited = once(gateway, "exit") as Promise<[number | null, NodeJS.Signals | null]>
  const lines = createInterface({ input: gateway.stdout! })
  const first = new Promise<string>((resolve, reject) => {
    lines.once("line", resolve)
    exited.then(([code, signal]) =>
      reject(new Error(`gateway exited (${code ?? signal}) before it was ready: ${stderr}`)),
    )
  })
  const timer = setTimeout(() => gateway.kill("SIGKILL"), 15_000)
  try {
    const { pids } = JSON.parse(await first) as { pids: number[] }
    started.push(...pids)
    return { gateway, pids, exited, stderr: () => stderr }
  } finally {
    clearTimeout(timer)
    lines.close()
  }
}

async function expectAllGone(pids: number[]) {
  await eventually(
    `pids ${pids.join(", ")} gone`,
    () => (pids.every((pid) => !isAlive(pid)) ? true : undefined),
    2000,
  )
}

describe("no replica outlives its gateway", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal}: stops the replicas, then dies of the signal as it would without them`, async () => {
      const { gateway, pids, exited } = await startGateway()
      expect(pids).toHaveLength(2)
      for (const pid of pids) expect(isAlive(pid)).toBe(true)
      gateway.kill(signal)
      const [code, killedBy] = await exited
      // The signal was re-raised after the clean-up: the default outcome, not exit code 0.
      expect({ code, killedBy }).toEqual({ code: null, killedBy: signal })
      // The gateway waited for its replicas: they were gone before it died.
      for (const pid of pids) expect(isAlive(pid)).toBe(false)
    })
  }

  it("SIGTERM: a replica (and its child) ignoring SIGTERM gets SIGKILL after the grace period", async () => {
    const { gateway, pids, exited } = await startGateway({ IGNORE_SIGTERM: "1" })
    const sent = Date.now()
    gateway.kill("SIGTERM")
    const [, killedBy] = await exited
    expect(killedBy).toBe("SIGTERM")
    // stopGracePeriodMs is 300 in the fixture.
    expect(Date.now() - sent).toBeGreaterThanOrEqual(290)
    await expectAllGone(pids)
  })

  for (const mode of ["throw", "reject"] as const) {
    it(`an uncaught ${mode === "throw" ? "exception" : "rejection"}: the gateway crashes and takes its replicas with it`, async () => {
      const { pids, exited, stderr } = await startGateway({ MODE: mode, IGNORE_SIGTERM: "1" })
      const [code] = await exited
      expect(code).toBe(1)
      expect(stderr()).toContain("the gateway fails")
      await expectAllGone(pids)
    })
  }
})

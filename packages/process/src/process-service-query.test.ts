import { createServer, type Server } from "node:net"
import {
  MIN_SCALE_LABEL,
  ServiceNotFoundError,
  ZERO_DURATION_LABEL,
  ZERO_SCALE_LABEL,
} from "@scale-from-zero/core"
import { describe, expect, it } from "vitest"
import {
  closingQueries,
  eventually,
  getJson,
  isAlive,
  serverService,
  until,
} from "../test/helpers.js"
import { createProcessServiceQuery, type ProcessEvent, shutdownHooksInstalled } from "./index.js"

const { start, track } = closingQueries()
const ns = "default"

/** Three consecutive ports nothing listens on now. */
async function freeRange(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000)
    const servers: Server[] = []
    try {
      for (let port = base; port < base + 3; port++) {
        const server = createServer()
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject)
          server.listen({ host: "127.0.0.1", port }, resolve)
        })
        servers.push(server)
      }
      return base
    } catch {
      // taken: try another base
    } finally {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
    }
  }
  throw new Error("no three consecutive free ports found")
}

describe("createProcessServiceQuery", () => {
  it("starts a replica from zero on setReplicas and reports it ready once its probe passes", async () => {
    const { query, events } = start({
      services: {
        hello: serverService({ STARTUP_DELAY_MS: "300" }, { readiness: { httpPath: "/healthz" } }),
      },
    })
    expect(await query.getReplicas("hello", ns)).toMatchObject({
      replicas: 0,
      availableReplicas: 0,
    })
    expect(query.endpoint("hello")).toBeUndefined()

    const began = Date.now()
    await query.setReplicas("hello", ns, 1)
    // Spawned, but it listens only after 300 ms: desired 1, none ready yet.
    expect(await query.getReplicas("hello", ns)).toMatchObject({
      replicas: 1,
      availableReplicas: 0,
    })
    const [replica] = query.status("hello").processes
    expect(replica).toMatchObject({ state: "starting" })

    const ready = await until(query, "hello", (status) => status.availableReplicas === 1)
    expect(ready).toMatchObject({ replicas: 1, availableReplicas: 1 })
    expect(Date.now() - began).toBeGreaterThanOrEqual(300)

    const url = query.endpoint("hello")
    expect(url).toBe(`http://127.0.0.1:${replica!.port}`)
    expect(query.endpoints("hello")).toEqual([url])
    const body = await getJson(url!)
    expect(body).toEqual({ pid: replica!.pid, port: replica!.port })
    expect(events.map((e) => e.type)).toEqual(["spawn", "ready"])
    const readyEvent = events[1] as Extract<ProcessEvent, { type: "ready" }>
    expect(readyEvent.startupMs).toBeGreaterThanOrEqual(300)
  })

  it("passes the port through the variable portEnv names, and reports labels and scale limits", async () => {
    const labels = {
      [MIN_SCALE_LABEL]: "2",
      [ZERO_SCALE_LABEL]: "true",
      [ZERO_DURATION_LABEL]: "2s",
    }
    const { query } = start({
      services: {
        hello: serverService({}, { portEnv: "LISTEN_PORT", labels, annotations: { team: "a" } }),
      },
      namespace: "demo",
    })
    await query.setReplicas("hello", "demo", 1)
    await until(query, "hello", (status) => status.availableReplicas === 1)
    const { port } = query.status("hello", "demo").processes[0]!
    expect((await getJson(query.endpoint("hello", "demo")!)).port).toBe(port)
    expect(await query.getReplicas("hello", "demo")).toEqual({
      replicas: 1,
      availableReplicas: 1,
      minReplicas: 2,
      maxReplicas: 5,
      scalingFactor: 10,
      labels,
      annotations: { team: "a" },
    })
  })

  it("takes a TCP connection as ready when no HTTP path is given", async () => {
    const { query } = start({ services: { tcp: serverService({ STARTUP_DELAY_MS: "100" }) } })
    await query.setReplicas("tcp", ns, 1)
    await until(query, "tcp", (status) => status.availableReplicas === 1)
    expect(query.status("tcp").processes[0]?.state).toBe("ready")
  })

  it("reports a replica that exits on its own and replaces it", async () => {
    const { query, events } = start({ services: { hello: serverService() } })
    await query.setReplicas("hello", ns, 1)
    await until(query, "hello", (status) => status.availableReplicas === 1)
    const first = query.status("hello").processes[0]!

    const down = until(query, "hello", (status) => status.availableReplicas === 0)
    await fetch(`${first.url}/crash`).catch(() => {})
    expect(await down).toMatchObject({ replicas: 1, availableReplicas: 0 })
    expect(events).toContainEqual(
      expect.objectContaining({ type: "exit", pid: first.pid, code: 3, crashed: true }),
    )
    expect(query.status("hello")).toMatchObject({
      crashes: 1,
      consecutiveFailures: 1,
      lastExit: { pid: first.pid, code: 3, signal: null, crashed: true },
    })

    await until(query, "hello", (status) => status.availableReplicas === 1)
    const second = query.status("hello").processes[0]!
    expect(second.pid).not.toBe(first.pid)
    expect((await getJson(second.url)).pid).toBe(second.pid)
    expect(isAlive(first.pid)).toBe(false)
  })

  it("backs off exponentially, within a bound, while a replica keeps crashing", async () => {
    const { query, events } = start({
      services: { flaky: serverService({ EXIT_AFTER_MS: "0", EXIT_CODE: "7" }) },
      restartBackoff: { initialMs: 50, maxMs: 200 },
    })
    await query.setReplicas("flaky", ns, 1)
    await eventually("six crashes", () => (query.status("flaky").crashes >= 6 ? true : undefined))
    await query.setReplicas("flaky", ns, 0)

    const delays = events.flatMap((e) => (e.type === "backoff" ? [e.delayMs] : []))
    expect(delays.slice(0, 6)).toEqual([50, 100, 200, 200, 200, 200])
    // Each respawn waited at least the delay announced after the crash before it.
    const spawns = events.filter((e) => e.type === "spawn")
    const backoffs = events.filter((e) => e.type === "backoff")
    for (let i = 1; i < 6; i++) {
      expect(spawns[i]!.at - backoffs[i - 1]!.at).toBeGreaterThanOrEqual(delays[i - 1]! - 2)
    }
    expect(query.status("flaky").lastExit).toMatchObject({ code: 7, crashed: true })
    expect(query.status("flaky").processes).toEqual([])
  })

  it("stops with SIGTERM, and sends SIGKILL to a replica that ignores it after the grace period", async () => {
    const { query, events } = start({
      services: {
        polite: serverService(),
        stubborn: serverService({ IGNORE_SIGTERM: "1" }, { stopGracePeriodMs: 1000 }),
      },
    })
    await Promise.all([query.setReplicas("polite", ns, 1), query.setReplicas("stubborn", ns, 1)])
    await Promise.all([
      until(query, "polite", (status) => status.availableReplicas === 1),
      until(query, "stubborn", (status) => status.availableReplicas === 1),
    ])
    const stopped = Date.now()
    await Promise.all([query.setReplicas("polite", ns, 0), query.setReplicas("stubborn", ns, 0)])
    await eventually("both exited", () =>
      events.filter((e) => e.type === "exit").length === 2 ? true : undefined,
    )
    const exit = (service: string) =>
      events.find((e) => e.type === "exit" && e.service === service) as Extract<
        ProcessEvent,
        { type: "exit" }
      > & { at: number }
    expect(exit("polite")).toMatchObject({ signal: "SIGTERM", crashed: false })
    expect(exit("polite").at - stopped).toBeLessThan(1000)
    expect(exit("stubborn")).toMatchObject({ signal: "SIGKILL", crashed: false })
    expect(exit("stubborn").at - stopped).toBeGreaterThanOrEqual(990)
    expect(events).toContainEqual(
      expect.objectContaining({ type: "kill", service: "stubborn", gracePeriodMs: 1000 }),
    )
    expect(events.some((e) => e.type === "kill" && e.service === "polite")).toBe(false)
  })

  it("stops what a replica started too (its whole process group)", async () => {
    const { query } = start({
      services: { parent: serverService({ GRANDCHILD: "1" }, { stopGracePeriodMs: 300 }) },
    })
    await query.setReplicas("parent", ns, 1)
    await until(query, "parent", (status) => status.availableReplicas === 1)
    const { pid, grandchild } = await getJson(query.endpoint("parent")!)
    expect(isAlive(grandchild!)).toBe(true)
    await query.setReplicas("parent", ns, 0)
    await eventually("group gone", () =>
      !isAlive(pid) && !isAlive(grandchild!) ? true : undefined,
    )
  })

  it("assigns each replica a port of its range, skipping one already taken, and refuses more replicas than ports", async () => {
    const base = await freeRange()
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen({ host: "127.0.0.1", port: base }, resolve))
    try {
      const { query } = start({
        services: { ranged: serverService({}, { port: { from: base, to: base + 2 } }) },
      })
      await query.setReplicas("ranged", ns, 2)
      await until(query, "ranged", (status) => status.availableReplicas === 2)
      const ports = query.status("ranged").processes.map((p) => p.port)
      expect(ports.sort()).toEqual([base + 1, base + 2])
      const answered = await Promise.all(query.endpoints("ranged").map((url) => getJson(url)))
      expect(answered.map((b) => b.port).sort()).toEqual([base + 1, base + 2])

      await expect(query.setReplicas("ranged", ns, 4)).rejects.toThrow(
        `ranged cannot run 4 replicas: its ports ${base}-${base + 2} allow 3`,
      )
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
  })

  it("reuses a fixed port once the replica that held it is gone", async () => {
    const base = await freeRange()
    const { query } = start({
      services: {
        fixed: serverService({ IGNORE_SIGTERM: "1" }, { port: base, stopGracePeriodMs: 200 }),
      },
    })
    await query.setReplicas("fixed", ns, 1)
    await until(query, "fixed", (status) => status.availableReplicas === 1)
    const first = query.status("fixed").processes[0]!
    await query.setReplicas("fixed", ns, 0)
    await query.setReplicas("fixed", ns, 1)
    await until(query, "fixed", (status) => status.availableReplicas === 1)
    const second = query.status("fixed").processes[0]!
    expect(second.pid).not.toBe(first.pid)
    expect(second.port).toBe(base)
    expect(isAlive(first.pid)).toBe(false)
  })

  it("kills and restarts a replica that is not ready within its startup timeout", async () => {
    const { query, events } = start({
      services: {
        slow: serverService(
          { STARTUP_DELAY_MS: "60000" },
          { startupTimeoutMs: 200, stopGracePeriodMs: 100 },
        ),
      },
    })
    await query.setReplicas("slow", ns, 1)
    await eventually("restarted", () =>
      events.filter((e) => e.type === "spawn").length >= 2 ? true : undefined,
    )
    expect(events.map((e) => e.type).slice(0, 5)).toEqual([
      "spawn",
      "startup-timeout",
      "backoff",
      "stop",
      "exit",
    ])
    expect(query.status("slow").lastError?.message).toMatch(/not ready within 200ms/)
  })

  it("reports a command that cannot be started and retries it with back-off", async () => {
    const { query, events } = start({
      services: { missing: { command: "/nonexistent/sfz-command" } },
      restartBackoff: { initialMs: 20, maxMs: 40 },
    })
    await query.setReplicas("missing", ns, 1)
    await eventually("retried", () =>
      events.filter((e) => e.type === "error").length >= 3 ? true : undefined,
    )
    await query.setReplicas("missing", ns, 0)
    const error = events.find((e) => e.type === "error") as Extract<ProcessEvent, { type: "error" }>
    expect(error.error.message).toMatch(/ENOENT/)
    expect(query.status("missing")).toMatchObject({ replicas: 0, availableReplicas: 0 })
    expect(query.status("missing").lastError?.message).toMatch(/ENOENT/)
  })

  it("throws core's ServiceNotFoundError for an unknown service or namespace", async () => {
    const { query } = start({ services: { hello: serverService() } })
    await expect(query.getReplicas("nope", ns)).rejects.toBeInstanceOf(ServiceNotFoundError)
    await expect(query.setReplicas("nope", ns, 1)).rejects.toBeInstanceOf(ServiceNotFoundError)
    await expect(query.getReplicas("hello", "elsewhere")).rejects.toMatchObject({
      name: "ServiceNotFoundError",
      service: "hello",
      namespace: "elsewhere",
    })
    expect(() => query.endpoint("nope")).toThrow(ServiceNotFoundError)
  })

  it("adds and removes services while running", async () => {
    const { query } = start({})
    expect(query.services).toEqual([])
    query.addService("late", serverService({}, { replicas: 1 }))
    await until(query, "late", (status) => status.availableReplicas === 1)
    const { pid } = query.status("late").processes[0]!
    await query.removeService("late")
    expect(isAlive(pid)).toBe(false)
    expect(query.services).toEqual([])
    await expect(query.getReplicas("late", ns)).rejects.toBeInstanceOf(ServiceNotFoundError)
  })

  it("close() stops every replica, resolves when they are gone, and removes the process hooks", async () => {
    const query = createProcessServiceQuery({
      services: {
        a: serverService({}, { replicas: 2 }),
        b: serverService({ IGNORE_SIGTERM: "1" }, { replicas: 1, stopGracePeriodMs: 200 }),
      },
      stdio: "ignore",
    })
    track(query)
    expect(shutdownHooksInstalled()).toBe(true)
    expect(process.listenerCount("SIGTERM")).toBeGreaterThan(0)
    await until(query, "a", (status) => status.availableReplicas === 2)
    await until(query, "b", (status) => status.availableReplicas === 1)
    const running = [...query.status("a").processes, ...query.status("b").processes].map(
      (p) => p.pid,
    )
    expect(running).toHaveLength(3)

    await query.close()
    for (const pid of running) expect(isAlive(pid)).toBe(false)
    expect(shutdownHooksInstalled()).toBe(false)
    await expect(query.setReplicas("a", ns, 1)).rejects.toThrow("closed")
    // Closing twice is the same close.
    await query.close()
  })
})

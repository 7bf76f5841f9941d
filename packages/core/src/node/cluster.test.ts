import { type ChildProcess, spawn } from "node:child_process"
import cluster, { type Worker } from "node:cluster"
import { once } from "node:events"
import { createServer, request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import type { ServiceQueryResponse } from "../types.js"
import { createClusterShared } from "./cluster.js"

const packageDir = fileURLToPath(new URL("../..", import.meta.url))
const GATEWAY = fileURLToPath(new URL("../../test/fixtures/cluster-gateway.ts", import.meta.url))
const NS = "openfaas-fn"

interface Call {
  op: "read" | "scale"
  name: string
  pid: number
  count?: number
  at: number
}

/**
 * A faithful stand-in for a backend (simulator): services with desired and ready replicas; a
 * scale-up turns ready after `startupMs`, or when the test says so (`startupMs` undefined).
 * Every call is recorded with the pid of the worker that made it.
 */
async function startBackend() {
  const services = new Map<string, ServiceQueryResponse & { startupMs: number | undefined }>()
  const calls: Call[] = []
  const server: Server = createServer((req, res) => {
    const [, op, , name = "", count] = (req.url ?? "").split("/")
    const pid = Number(req.headers["x-pid"])
    const service = services.get(name)
    if (service === undefined) {
      res.writeHead(404).end()
      return
    }
    if (op === "status") {
      calls.push({ op: "read", name, pid, at: Date.now() })
      const { startupMs: _, ...status } = service
      res.end(JSON.stringify(status))
      return
    }
    const replicas = Number(count)
    calls.push({ op: "scale", name, pid, count: replicas, at: Date.now() })
    service.replicas = replicas
    if (replicas === 0) service.availableReplicas = 0
    else if (service.startupMs !== undefined) {
      setTimeout(() => {
        service.availableReplicas = service.replicas
      }, service.startupMs)
    }
    res.end()
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    add(name: string, replicas: number, startupMs?: number) {
      services.set(name, {
        replicas,
        availableReplicas: replicas,
        minReplicas: 1,
        maxReplicas: 5,
        scalingFactor: 10,
        startupMs,
      })
    },
    ready(name: string) {
      const service = services.get(name)
      if (service) service.availableReplicas = service.replicas
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

type Backend = Awaited<ReturnType<typeof startBackend>>
const running: { primary: ChildProcess; pids: number[] }[] = []
const backends: Backend[] = []

afterEach(async () => {
  for (const { primary, pids } of running.splice(0)) {
    for (const pid of [primary.pid ?? 0, ...pids]) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone already, as it should be
      }
    }
  }
  for (const backend of backends.splice(0)) await backend.close()
})

/** The fixture's primary (its own process) with `workers` workers, in front of `backend`. */
async function startCluster(backend: Backend, env: Record<string, string> = {}) {
  const primary = spawn(process.execPath, ["--conditions=source", "--import", "tsx", GATEWAY], {
    cwd: packageDir,
    env: { ...process.env, BACKEND_URL: backend.url, WORKERS: "2", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  })
  const lines = createInterface({ input: primary.stdout! })
  const timer = setTimeout(() => primary.kill("SIGKILL"), 15_000)
  const [line] = (await Promise.race([
    once(lines, "line"),
    once(primary, "exit").then(() => {
      throw new Error("the cluster exited before it listened")
    }),
  ])) as [string]
  clearTimeout(timer)
  lines.close()
  const { port, pids } = JSON.parse(line) as { port: number; pids: number[] }
  running.push({ primary, pids })
  return { primary, pids, url: `http://127.0.0.1:${port}` }
}

/** One request on its own connection (so the cluster spreads them over the workers). */
function get(url: string): Promise<{ status: number; pid?: number; error?: string }> {
  return new Promise((resolve) => {
    const outgoing = request(url, { agent: false })
    outgoing.once("error", (error) => resolve({ status: 0, error: error.message }))
    outgoing.once("response", (incoming) => {
      let body = ""
      incoming.on("data", (chunk) => {
        body += chunk
      })
      incoming.once("end", () => {
        const pid = incoming.statusCode === 200 ? (JSON.parse(body) as { pid: number }).pid : 0
        resolve({ status: incoming.statusCode ?? 0, pid })
      })
    })
    outgoing.end()
  })
}

const until = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`not so within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Requests until every worker has answered one: each then knows the service. */
async function reachEveryWorker(url: string, pids: number[]) {
  const seen = new Set<number>()
  for (let i = 0; i < 20 && seen.size < pids.length; i++) {
    const answer = await get(url)
    expect(answer.status).toBe(200)
    seen.add(answer.pid ?? 0)
  }
  expect([...seen].sort()).toEqual([...pids].sort())
}

describe("createClusterShared: gateways in node:cluster workers act as one", () => {
  it("a cold burst spread over the workers makes one scale call, and the backend is read as by one gateway", async () => {
    const backend = await startBackend()
    backends.push(backend)
    const startupMs = 600
    const pollMs = 50
    backend.add("cold", 0, startupMs)
    const { url, pids } = await startCluster(backend, { POLL_MS: String(pollMs) })

    const answers = await Promise.all(Array.from({ length: 12 }, () => get(`${url}/function/cold`)))

    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
    // Both workers held requests, and released them.
    expect(new Set(answers.map((a) => a.pid)).size).toBe(pids.length)
    const scales = backend.calls.filter((c) => c.op === "scale")
    expect(scales.map((c) => c.count)).toEqual([1])
    // One gateway polls about startupMs / pollMs times; each worker polling would multiply it.
    const scaledAt = scales[0]!.at
    const reads = backend.calls.filter((c) => c.op === "read")
    const polls = reads.filter((c) => c.at > scaledAt)
    expect(polls.length).toBeLessThanOrEqual(Math.ceil(startupMs / pollMs) + 2)
    expect(new Set(polls.map((c) => c.pid)).size).toBe(1)
    // Before the scale call: at most one first read per worker.
    expect(reads.length - polls.length).toBeLessThanOrEqual(pids.length)
  })

  it("no worker scales a service down while another one serves it", async () => {
    const backend = await startBackend()
    backends.push(backend)
    backend.add("busy", 1)
    const idleAfterMs = 400
    const { url, pids } = await startCluster(backend, { IDLE_AFTER_MS: String(idleAfterMs) })
    await reachEveryWorker(`${url}/function/busy`, pids)

    // One worker serves a long request; the other has been idle for far past idleAfterMs.
    const long = await get(`${url}/function/busy?holdMs=${idleAfterMs * 4}`)
    expect(long.status).toBe(200)
    expect(backend.calls.filter((c) => c.op === "scale")).toEqual([])

    // Idle everywhere now: scaled down once, by one worker.
    await until(() => backend.calls.some((c) => c.op === "scale"), idleAfterMs * 10)
    await new Promise((resolve) => setTimeout(resolve, idleAfterMs))
    expect(backend.calls.filter((c) => c.op === "scale").map((c) => c.count)).toEqual([0])
  })

  it("a worker killed mid-wake: another takes the wake over at once, not when the claim lapses", async () => {
    const backend = await startBackend()
    backends.push(backend)
    backend.add("slow", 0) // turns ready when the test says so
    // A claim lapses only after 20 s: a takeover sooner comes from the exit releasing it.
    const { url, pids } = await startCluster(backend, { CLAIM_TTL_MS: "20000" })
    const pending = Array.from({ length: 6 }, () => get(`${url}/function/slow`))
    await until(() => backend.calls.some((c) => c.op === "scale"), 10_000)
    const leader = backend.calls.find((c) => c.op === "scale")!.pid
    const survivor = pids.find((pid) => pid !== leader)!
    process.kill(leader, "SIGKILL")
    const killedAt = Date.now()

    // The survivor takes over (claims are checked every quarter of the claim's life: 5 s).
    await until(() => backend.calls.some((c) => c.pid === survivor && c.at > killedAt), 8_000)
    backend.ready("slow")
    const answers = await Promise.all(pending)

    const served = answers.filter((a) => a.status === 200)
    expect(served.length).toBeGreaterThan(0)
    expect(served.every((a) => a.pid === survivor)).toBe(true)
    // The rest were held by the killed worker: their connections closed, nothing else.
    expect(answers.filter((a) => a.status !== 200).every((a) => a.status === 0)).toBe(true)
    // Once by the killed leader; the survivor asks again only when it claimed the wake right
    // after the kill with the status it read before the first call: for the same one replica.
    const scales = backend.calls.filter((c) => c.op === "scale")
    expect(scales[0]!.pid).toBe(leader)
    expect(scales.every((c) => c.count === 1)).toBe(true)
    expect(scales.length).toBeLessThanOrEqual(2)
  })
})

describe("createClusterShared in the primary", () => {
  it("validates its options", () => {
    expect(() => createClusterShared({ requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/)
    expect(() => createClusterShared({ readySharedMs: -1 })).toThrow(/readySharedMs/)
    expect(() => createClusterShared(null as never)).toThrow(/options/)
  })

  it("its own views share the primary's state: one claim, ready heard, activity kept", async () => {
    const one = createClusterShared()
    const two = createClusterShared()
    try {
      expect(one.role).toBe("primary")
      expect(await one.sharedWakes.claimWake("a", NS)).toBe(true)
      expect(await two.sharedWakes.claimWake("a", NS)).toBe(false)
      const heard: number[] = []
      const stop = new AbortController()
      await two.sharedWakes.onReady("a", NS, (s) => heard.push(s.availableReplicas), stop.signal)
      await one.sharedWakes.publishReady("a", NS, {
        replicas: 1,
        availableReplicas: 1,
        minReplicas: 1,
        maxReplicas: 5,
        scalingFactor: 10,
      })
      await until(() => heard.length === 1, 1_000)
      stop.abort()
      await one.sharedActivity.record("a", NS, 1234)
      expect(await two.sharedActivity.lastActive("a", NS)).toBe(1234)
      expect(await one.sharedActivity.claimScaleDown("a", NS, 1_000)).toBe(true)
      expect(await two.sharedActivity.claimScaleDown("a", NS, 1_000)).toBe(false)
    } finally {
      one.close()
      two.close()
    }
  })

  it("shares one read in flight between its views, and not a failure's abort", async () => {
    const one = createClusterShared()
    const two = createClusterShared()
    let reads = 0
    let answer = (_: ServiceQueryResponse) => {}
    const backend = {
      getReplicas: () => {
        reads++
        return new Promise<ServiceQueryResponse>((resolve) => {
          answer = resolve
        })
      },
      setReplicas: async () => {},
    }
    try {
      const first = one.shareReads(backend).getReplicas("r", NS)
      await until(() => reads === 1, 1_000)
      const second = two.shareReads(backend).getReplicas("r", NS)
      await new Promise((resolve) => setTimeout(resolve, 20))
      const status = {
        replicas: 1,
        availableReplicas: 1,
        minReplicas: 1,
        maxReplicas: 5,
        scalingFactor: 10,
      }
      answer(status)
      expect(await first).toEqual(status)
      expect(await second).toEqual(status)
      expect(reads).toBe(1)
      // Ready, it answers the next read for readySharedMs; a scale call forgets it.
      expect(await two.shareReads(backend).getReplicas("r", NS)).toEqual(status)
      expect(reads).toBe(1)
      await one.shareReads(backend).setReplicas("r", NS, 0)
      const third = two.shareReads(backend).getReplicas("r", NS)
      await until(() => reads === 2, 1_000)
      answer({ ...status, replicas: 0, availableReplicas: 0 })
      expect((await third).availableReplicas).toBe(0)
    } finally {
      one.close()
      two.close()
    }
  })

  it("answers a worker's bad messages without crashing, and releases a worker's claims when it exits", async () => {
    const shared = createClusterShared()
    const replies: Record<string, unknown>[] = []
    const worker = {
      id: 9_999,
      isConnected: () => true,
      send: (message: Record<string, unknown>) => {
        replies.push(message)
        return true
      },
    } as unknown as Worker
    const sfz = "scale-from-zero/cluster@1"
    const from = "fake"
    try {
      for (const garbage of [
        null,
        42,
        "x",
        {},
        { sfz },
        { sfz, from: 1 },
        { sfz: "other", from },
      ]) {
        cluster.emit("message", worker, garbage)
      }
      cluster.emit("message", worker, { sfz, from, id: 1, op: "claimWake", name: 7 })
      cluster.emit("message", worker, {
        sfz,
        from,
        id: 2,
        op: "nonsense",
        name: "a",
        namespace: NS,
      })
      cluster.emit("message", worker, {
        sfz,
        from,
        id: 3,
        op: "record",
        name: "a",
        namespace: NS,
        at: "soon",
      })
      cluster.emit("message", worker, {
        sfz,
        from,
        op: "readDone",
        name: "a",
        namespace: NS,
        status: "?",
      })
      cluster.emit("message", worker, {
        sfz,
        from,
        id: 4,
        op: "claimWake",
        name: "w",
        namespace: NS,
      })
      await until(() => replies.length === 4, 1_000)
      expect(replies.map((r) => [r.id, r.ok])).toEqual([
        [1, false],
        [2, false],
        [3, false],
        [4, true],
      ])
      expect(replies[3]!.value).toBe(true)
      // The worker holds the wake; once it exits, another instance may claim it at once.
      expect(await shared.sharedWakes.claimWake("w", NS)).toBe(false)
      cluster.emit("exit", worker, 1, null)
      expect(await shared.sharedWakes.claimWake("w", NS)).toBe(true)
    } finally {
      shared.close()
    }
    // Closed: the primary stops answering.
    cluster.emit("message", worker, { sfz, from, id: 5, op: "claimWake", name: "z", namespace: NS })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(replies.length).toBe(4)
  })
})

import type { ChildProcess } from "node:child_process"
import { readFileSync } from "node:fs"
import { request } from "node:http"
import { performance } from "node:perf_hooks"
import { startFaasProviderSimulator } from "@scale-from-zero/test-kit/faas-provider-simulator"
import { autocannon, here, startServerProcess } from "./child.js"
import { median, percentile, round } from "./stats.js"

const NAMESPACE = "openfaas-fn"

/** The Koa OpenFaaS example (or its bare proxy), one process or one worker per core. */
type Contender = { id: string; variant: "bare" | "bare-hold" | "gateway"; workers: number }
const CONTENDERS: Contender[] = [
  { id: "bare proxy", variant: "bare", workers: 1 },
  { id: "gateway", variant: "gateway", workers: 1 },
  { id: "gateway, 2 workers", variant: "gateway", workers: 2 },
]

export interface WholeGatewayRow {
  contender: string
  workers: number
  reqPerSec: number
  /** Lowest and highest req/s over the rounds: the noise. */
  reqPerSecRange: [number, number]
  p99Ms: number
  /** Gateway CPU (every process of it) per 1 000 requests, ms, median over rounds. */
  cpuMsPer1k: number
  cpuMsPer1kRange: [number, number]
  errors: number
}

export interface ReleaseBurstRow {
  /** "bare hold" (the same app holding on a plain promise) or "gateway" (the example). */
  contender: string
  held: number
  rounds: number
  /** Ready → first, median, last answer at the client, ms, medians over rounds. */
  firstMs: number
  p50Ms: number
  lastMs: number
  lastMsRange: [number, number]
  /** Gateway CPU from just before ready to the last answer, ms (10 ms ticks): every thread. */
  cpuMs: number
  cpuMsRange: [number, number]
  /** The same, its main (JavaScript) thread only: the rest is V8's helper threads. */
  mainThreadCpuMs: number
  statuses: Record<string, number>
}

/** utime + stime in ms of a process, or of one of its threads, from /proc (100 ticks a second). */
function cpuMsOf(pid: number, thread?: number): number {
  const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`
  const fields = readFileSync(path, "utf8").split(") ")[1]?.split(" ") ?? []
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function startGateway(contender: Contender, providerUrl: string) {
  const { child, started } = await startServerProcess<{ port: number; pids: number[] }>(
    [
      "--conditions=source",
      "--import",
      "tsx",
      here("./gateway-server.ts"),
      contender.variant,
      String(contender.workers),
      providerUrl,
    ],
    contender.id,
    { ...process.env, NODE_ENV: "production" },
  )
  const pids = [child.pid ?? 0, ...started.pids.filter((pid) => pid !== child.pid)]
  return {
    child,
    url: `http://127.0.0.1:${started.port}`,
    cpuMs: () => pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0),
    mainThreadCpuMs: () => cpuMsOf(child.pid ?? 0, child.pid ?? 0),
  }
}

async function stopGateway(child: ChildProcess) {
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  await exited
}

async function load(url: string, seconds: number, connections: number) {
  const r = await autocannon(url, { connections, seconds })
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    total: r.requests.total,
    errors: r.errors + r.non2xx + r.timeouts,
  }
}

/**
 * Warm requests through the whole gateway (Koa example, its proxy, the faas-provider simulator
 * answering the function) by autocannon with `connections` connections, rounds interleaved.
 */
export async function measureWholeGateway(settings: {
  seconds: number
  rounds: number
  connections: number
}): Promise<WholeGatewayRow[]> {
  const provider = await startFaasProviderSimulator()
  provider.addFunction("warm", NAMESPACE, { replicas: 1 })
  const gateways = []
  try {
    for (const contender of CONTENDERS) {
      gateways.push({ contender, ...(await startGateway(contender, `${provider.url}/`)) })
    }
    const runs = new Map<string, { rps: number; p99: number; cpu: number; errors: number }[]>()
    for (const g of gateways) {
      await load(`${g.url}/function/warm`, 1, settings.connections) // warm-up
      runs.set(g.contender.id, [])
    }
    for (let round = 0; round < settings.rounds; round++) {
      const order = round % 2 === 0 ? gateways : [...gateways].reverse()
      for (const g of order) {
        const before = g.cpuMs()
        const run = await load(`${g.url}/function/warm`, settings.seconds, settings.connections)
        const cpu = ((g.cpuMs() - before) / run.total) * 1000
        runs.get(g.contender.id)?.push({ rps: run.rps, p99: run.p99, cpu, errors: run.errors })
      }
    }
    return gateways.map(({ contender }) => {
      const v = runs.get(contender.id) ?? []
      const rps = v.map((r) => r.rps)
      const cpu = v.map((r) => r.cpu)
      return {
        contender: contender.id,
        workers: contender.workers,
        reqPerSec: round(median(rps), 0),
        reqPerSecRange: [round(Math.min(...rps), 0), round(Math.max(...rps), 0)],
        p99Ms: median(v.map((r) => r.p99)),
        cpuMsPer1k: round(median(cpu), 1),
        cpuMsPer1kRange: [round(Math.min(...cpu), 1), round(Math.max(...cpu), 1)],
        errors: v.reduce((sum, r) => sum + r.errors, 0),
      }
    })
  } finally {
    for (const g of gateways) await stopGateway(g.child)
    await provider.close()
  }
}

/** One request on its own connection; resolves when its answer has been read, never rejects. */
function send(url: string): Promise<{ status: number; end: number }> {
  return new Promise((resolve) => {
    const outgoing = request(url, { agent: false })
    outgoing.once("error", () => resolve({ status: 0, end: performance.now() }))
    outgoing.once("response", (incoming) => {
      incoming.resume()
      incoming.once("end", () =>
        resolve({ status: incoming.statusCode ?? 0, end: performance.now() }),
      )
    })
    outgoing.end()
  })
}

const BURST_CONTENDERS: Contender[] = [
  { id: "bare hold", variant: "bare-hold", workers: 1 },
  CONTENDERS[1] as Contender,
]

/**
 * `held` requests for one function at zero are held by each contender (one process each, the
 * contenders' bursts interleaved); the simulator makes the function ready 1.5–1.6 s after the
 * scale call. From that instant: each answer's arrival at the client, and the gateway's CPU
 * time until the last.
 */
export async function measureReleaseBurst(
  held: number,
  rounds: number,
): Promise<ReleaseBurstRow[]> {
  const startupDelayMs = 1500
  // Each function gets its own delay (below): the simulator's default is not used.
  const provider = await startFaasProviderSimulator()
  const gateways = []
  const results = new Map<
    string,
    { first: number; p50: number; last: number; cpu: number; main: number }[]
  >()
  const statuses = new Map<string, Record<string, number>>()
  try {
    for (const contender of BURST_CONTENDERS) {
      gateways.push({ contender, ...(await startGateway(contender, `${provider.url}/`)) })
      results.set(contender.id, [])
      statuses.set(contender.id, {})
    }
    for (let i = 0; i < rounds + 1; i++) {
      for (const gateway of i % 2 === 0 ? gateways : [...gateways].reverse()) {
        const name = `burst${i}-${gateway.contender.variant}`
        // Ready at a different point of the 100 ms poll interval each round (the same for both):
        // a fixed delay would find each holder's polls always at the same phase.
        const readyAfterMs = startupDelayMs + ((i * 37) % 100)
        provider.addFunction(name, NAMESPACE, { replicas: 0, startupDelayMs: readyAfterMs })
        const answers = Array.from({ length: held }, () => send(`${gateway.url}/function/${name}`))
        let scaledAt: number | undefined
        while (scaledAt === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 10))
          scaledAt = provider.requests.find((r) =>
            r.target.startsWith(`/system/scale-function/${name}`),
          )?.at
        }
        const readyAt = scaledAt + readyAfterMs
        await new Promise((resolve) => setTimeout(resolve, readyAt - 20 - performance.now()))
        const cpuBefore = gateway.cpuMs()
        const mainBefore = gateway.mainThreadCpuMs()
        const done = await Promise.all(answers)
        const cpu = gateway.cpuMs() - cpuBefore
        const main = gateway.mainThreadCpuMs() - mainBefore
        const ends = done.map((a) => a.end - readyAt)
        const counts = statuses.get(gateway.contender.id) ?? {}
        for (const a of done) counts[a.status] = (counts[a.status] ?? 0) + 1
        // The first round warms each gateway's code up: not recorded.
        if (i > 0) {
          results.get(gateway.contender.id)?.push({
            first: Math.min(...ends),
            p50: median(ends),
            last: Math.max(...ends),
            cpu,
            main,
          })
        }
        provider.removeFunction(name, NAMESPACE)
      }
    }
  } finally {
    for (const g of gateways) await stopGateway(g.child)
    await provider.close()
  }
  return BURST_CONTENDERS.map(({ id }) => {
    const v = results.get(id) ?? []
    const lasts = v.map((r) => r.last)
    const cpus = v.map((r) => r.cpu)
    return {
      contender: id,
      held,
      rounds,
      firstMs: round(median(v.map((r) => r.first)), 1),
      p50Ms: round(median(v.map((r) => r.p50)), 1),
      lastMs: round(median(lasts), 1),
      lastMsRange: [round(Math.min(...lasts), 1), round(Math.max(...lasts), 1)],
      cpuMs: median(cpus),
      cpuMsRange: [Math.min(...cpus), Math.max(...cpus)],
      mainThreadCpuMs: median(v.map((r) => r.main)),
      statuses: statuses.get(id) ?? {},
    }
  })
}

export { percentile }

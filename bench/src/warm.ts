import type { ChildProcess } from "node:child_process"
import { existsSync } from "node:fs"
import { autocannon, here, startServerProcess } from "./child.js"
import { median, round } from "./stats.js"

const FRAMEWORKS = ["express", "koa", "hono"] as const

export interface WarmOverhead {
  framework: string
  bareRps: number
  middlewareRps: number
  /** middleware ÷ bare throughput, medians of interleaved runs. */
  throughputRatio: number
  /** The lowest and highest middleware ÷ bare ratio of one round's pair of runs: the noise. */
  throughputRatioRange: [number, number]
  addedP50Ms: number
  addedP99Ms: number
  /** Server CPU time per request (user + system), medians: robust where throughput is noisy. */
  bareCpuMicrosPerRequest: number
  middlewareCpuMicrosPerRequest: number
  /** bare ÷ middleware CPU per request: the throughput ratio of a CPU-bound server. */
  cpuRatio: number
  /**
   * Share of the loaded server's busy CPU profile spent in scale-from-zero's own code (%),
   * all samples of `profileRounds` profiles pooled.
   */
  profileSharePercent: number
  /** The lowest and highest share of one profile. */
  profileShareRange: [number, number]
  /**
   * The same share with every sample counted once, whatever its interval: a server descheduled
   * for a while (other processes on the cores) puts that whole pause on its next sample's
   * function, which the share by time charges to that function.
   */
  profileSampleSharePercent: number
  profileSampleShareRange: [number, number]
  /** The bare app's pass-through middleware's share, profiled the same way (pooled, %). */
  passThroughSharePercent: number
  /** With scaleToZero on (every request counted in flight until its response ends). */
  countingRps: number
  countingCpuMicrosPerRequest: number
  /** scaleToZero off ÷ on, CPU per request: what counting costs. */
  countingCpuRatio: number
  runs: number
}

interface Run {
  rps: number
  p50: number
  p99: number
  cpuMicrosPerRequest: number
}

export type Variant = "bare" | "middleware" | "counting"

/** Where the middleware's cached status comes from (warm-server.ts). */
export type Entry = "watched" | "polled"

/**
 * Load before a server is measured: TurboFan optimised `gate.admit` after 1.1 to 3.3 s of load
 * on Node 22 and 24 here (Maglev runs it until then: other code, which allocates where
 * TurboFan's does not).
 */
export const WARM_UP_SECONDS = 5

/** How a measured server runs. */
export interface ServerSetup {
  /** Default "watched". */
  entry?: Entry
  /** TurboFan inlining; default on. */
  inlining?: boolean
  /** Load before measuring; default WARM_UP_SECONDS. */
  warmUpSeconds?: number
}

export type StartedServer = Awaited<ReturnType<typeof startServer>>

/** Starts one app, loads it until warm (its first request is cold), measures it, stops it. */
export async function withWarmServer<T>(
  framework: string,
  variant: Variant,
  setup: ServerSetup,
  measure: (server: StartedServer) => Promise<T>,
): Promise<T> {
  const flags = setup.inlining === false ? ["--no-turbo-inlining"] : []
  const server = await startServer(framework, variant, flags, setup.entry)
  try {
    await load(server.url, setup.warmUpSeconds ?? WARM_UP_SECONDS)
    return await measure(server)
  } finally {
    await stop(server.child)
  }
}

export async function startServer(
  framework: string,
  variant: Variant,
  nodeFlags: string[] = [],
  entry: Entry = "watched",
) {
  const { child, started } = await startServerProcess<{ port: number }>(
    [
      "--conditions=source",
      "--import",
      "tsx",
      ...nodeFlags,
      here("./warm-server.ts"),
      framework,
      variant,
      entry,
    ],
    `${framework} ${variant} ${entry} server`,
  )
  const { port } = started
  return {
    child,
    url: `http://127.0.0.1:${port}/function/echo/hello`,
    cpuUrl: `http://127.0.0.1:${port}/__cpu`,
    /** `${probeUrl}/profile/start`, …/stop: the server's own profilers, on paths of no service. */
    probeUrl: `http://127.0.0.1:${port}/__probe`,
  }
}

const serverCpu = async (cpuUrl: string) => Number(await (await fetch(cpuUrl)).text())

/** One load run, with the server's CPU time over it. */
async function measure(server: { url: string; cpuUrl: string }, seconds: number): Promise<Run> {
  const before = await serverCpu(server.cpuUrl)
  const run = await load(server.url, seconds)
  const cpu = (await serverCpu(server.cpuUrl)) - before
  return { ...run, cpuMicrosPerRequest: cpu / run.requests }
}

export async function load(
  url: string,
  seconds: number,
): Promise<Omit<Run, "cpuMicrosPerRequest"> & { requests: number }> {
  // Pipelining lets one autocannon process load the server nearer to saturation on two cores.
  const result = await autocannon(url, { connections: 50, pipelining: 10, seconds })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`)
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
  }
}

export const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[]
  samples: number[]
  timeDeltas: number[]
}

/** Sampling period of the profiles (µs): 10× Node's default, so 1 % of a short run is many samples. */
const PROFILE_INTERVAL_US = 100
const OUR_CODE = /\/packages\/(core|express|koa|hono)\/src\//

/** Busy time of one CPU profile, the part of it in our code, and our functions' own times. */
export interface ProfileShare {
  busyMicros: number
  oursMicros: number
  /** Self time per function of ours (`name file`), µs. */
  ours: Map<string, number>
  /** Self time of the bare app's middleware (pass-through.ts), which only calls `next()`. */
  passThroughMicros: number
  /** The same, in samples (each counted once, whatever its interval). */
  busySamples: number
  oursSamples: number
  oursBySamples: Map<string, number>
  passThroughSamples: number
}

export function shareOf(profile: CpuProfile): ProfileShare {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const share: ProfileShare = {
    busyMicros: 0,
    oursMicros: 0,
    ours: new Map(),
    passThroughMicros: 0,
    busySamples: 0,
    oursSamples: 0,
    oursBySamples: new Map(),
    passThroughSamples: 0,
  }
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)
    const micros = profile.timeDeltas[i] ?? 0
    if (frame === undefined || frame.functionName === "(idle)") return
    share.busyMicros += micros
    share.busySamples++
    if (frame.url.endsWith("/pass-through.ts")) {
      share.passThroughMicros += micros
      share.passThroughSamples++
    }
    if (!OUR_CODE.test(frame.url)) return
    share.oursMicros += micros
    share.oursSamples++
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/.*\/packages\//, "")}`
    share.ours.set(key, (share.ours.get(key) ?? 0) + micros)
    share.oursBySamples.set(key, (share.oursBySamples.get(key) ?? 0) + 1)
  })
  return share
}

/**
 * Loads one app and profiles it once warm (the server's own inspector session, a sample every
 * PROFILE_INTERVAL_US). V8 charges a function inlined into another to the outer one, both ways
 * (the framework's `next` inlined into a middleware counts as the middleware's): `inlining:
 * false` runs the server with TurboFan inlining off, so that every function's time is its own.
 */
export function profileOnce(
  framework: string,
  seconds: number,
  variant: Variant,
  setup: ServerSetup,
): Promise<ProfileShare> {
  return withWarmServer(framework, variant, setup, async (server) => {
    await fetch(`${server.probeUrl}/profile/start?intervalMicros=${PROFILE_INTERVAL_US}`)
    await load(server.url, seconds)
    const profile = (await (await fetch(`${server.probeUrl}/profile/stop`)).json()) as CpuProfile
    return shareOf(profile)
  })
}

const percentOf = (part: number, whole: number) => round((100 * part) / whole, 2)
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0)

/**
 * Our share (%) over several profiles of the middleware app: pooled (all samples summed) and
 * each profile's; beside it, interleaved, the bare app's pass-through middleware's pooled share
 * (what V8 charges a middleware that only calls `next()` with).
 */
export async function profileShares(
  framework: string,
  seconds: number,
  rounds: number,
  setup: ServerSetup = {},
) {
  const shares: ProfileShare[] = []
  const bare: ProfileShare[] = []
  for (let i = 0; i < rounds; i++) {
    shares.push(await profileOnce(framework, seconds, "middleware", setup))
    bare.push(await profileOnce(framework, seconds, "bare", setup))
  }
  const each = shares.map((s) => percentOf(s.oursMicros, s.busyMicros))
  const eachBySamples = shares.map((s) => percentOf(s.oursSamples, s.busySamples))
  return {
    pooled: percentOf(sum(shares.map((s) => s.oursMicros)), sum(shares.map((s) => s.busyMicros))),
    range: [Math.min(...each), Math.max(...each)] as [number, number],
    passThrough: percentOf(
      sum(bare.map((s) => s.passThroughMicros)),
      sum(bare.map((s) => s.busyMicros)),
    ),
    pooledBySamples: percentOf(
      sum(shares.map((s) => s.oursSamples)),
      sum(shares.map((s) => s.busySamples)),
    ),
    rangeBySamples: [Math.min(...eachBySamples), Math.max(...eachBySamples)] as [number, number],
    passThroughBySamples: percentOf(
      sum(bare.map((s) => s.passThroughSamples)),
      sum(bare.map((s) => s.busySamples)),
    ),
    shares,
  }
}

function roundRatios(runs: Record<Variant, Run[]>): [number, number] {
  const ratios = runs.middleware.map((run, i) => run.rps / (runs.bare[i]?.rps ?? Number.NaN))
  return [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)]
}

/** The same app with an empty middleware and with scaleFromZero, loaded in interleaved runs. */
export async function measureWarmOverhead(settings: {
  seconds: number
  rounds: number
  /** CPU profiles of the loaded middleware server, each `seconds` long. */
  profileRounds: number
  /** Load on each server before it is measured; default WARM_UP_SECONDS. */
  warmUpSeconds?: number
  log: (line: string) => void
}): Promise<WarmOverhead[]> {
  const warmUpSeconds = settings.warmUpSeconds ?? WARM_UP_SECONDS
  const results: WarmOverhead[] = []
  for (const framework of FRAMEWORKS) {
    if (!existsSync(here(`../../packages/${framework}/src/index.ts`))) {
      settings.log(`  ${framework}: adapter not present, not measured`)
      continue
    }
    const bare = await startServer(framework, "bare")
    const middleware = await startServer(framework, "middleware")
    const counting = await startServer(framework, "counting")
    const servers = { bare, middleware, counting }
    try {
      for (const server of Object.values(servers)) await load(server.url, warmUpSeconds)
      const runs: Record<Variant, Run[]> = { bare: [], middleware: [], counting: [] }
      for (let round = 0; round < settings.rounds; round++) {
        const order: Variant[] =
          round % 2 === 0 ? ["bare", "middleware", "counting"] : ["counting", "middleware", "bare"]
        for (const variant of order) {
          runs[variant].push(await measure(servers[variant], settings.seconds))
        }
      }
      const m = (variant: Variant, key: keyof Run) => median(runs[variant].map((r) => r[key]))
      const result: WarmOverhead = {
        framework,
        bareRps: round(m("bare", "rps"), 0),
        middlewareRps: round(m("middleware", "rps"), 0),
        throughputRatio: round(m("middleware", "rps") / m("bare", "rps"), 3),
        throughputRatioRange: roundRatios(runs),
        addedP50Ms: round(m("middleware", "p50") - m("bare", "p50")),
        addedP99Ms: round(m("middleware", "p99") - m("bare", "p99")),
        bareCpuMicrosPerRequest: round(m("bare", "cpuMicrosPerRequest")),
        middlewareCpuMicrosPerRequest: round(m("middleware", "cpuMicrosPerRequest")),
        cpuRatio: round(
          m("bare", "cpuMicrosPerRequest") / m("middleware", "cpuMicrosPerRequest"),
          3,
        ),
        ...(await profileShares(framework, settings.seconds, settings.profileRounds, {
          warmUpSeconds,
        }).then(({ pooled, range, passThrough, pooledBySamples, rangeBySamples }) => ({
          profileSharePercent: pooled,
          profileShareRange: range,
          profileSampleSharePercent: pooledBySamples,
          profileSampleShareRange: rangeBySamples,
          passThroughSharePercent: passThrough,
        }))),
        countingRps: round(m("counting", "rps"), 0),
        countingCpuMicrosPerRequest: round(m("counting", "cpuMicrosPerRequest")),
        countingCpuRatio: round(
          m("middleware", "cpuMicrosPerRequest") / m("counting", "cpuMicrosPerRequest"),
          3,
        ),
        runs: settings.rounds,
      }
      results.push(result)
      settings.log(`  ${JSON.stringify(result)}`)
    } finally {
      await Promise.all(Object.values(servers).map((server) => stop(server.child)))
    }
  }
  return results
}

import { fileURLToPath } from "node:url"
import { here, runForJson } from "./child.js"
import type { HeapSample } from "./heap-profile.js"
import { round } from "./stats.js"
import {
  type Entry,
  load,
  type ServerSetup,
  type Variant,
  WARM_UP_SECONDS,
  withWarmServer,
} from "./warm.js"

export interface AdmitLoopAllocation {
  path: string
  entry: "polled" | "watched"
  /** Heap growth per admit with no scavenge inside the loop: every byte allocated. */
  heapBytesPerAdmit: number
  /** The heap profile's estimate of all bytes allocated per admit, and of ours. */
  sampledBytesPerAdmit: number
  oursSampledBytesPerAdmit: number
  /** Our functions the profile caught allocating, with their bytes. */
  oursAllocating: Record<string, number>
}

export interface ServerAllocation {
  framework: string
  /** The cached status: kept right by the backend's pushes, or polled (the check reads the clock). */
  entry: Entry
  /** TurboFan inlining on (as in production) or off (every function's allocations its own). */
  inlining: boolean
  /** Bytes sampled per request with scaleFromZero's frame (or any of ours) on top of the stack. */
  oursBytesPerRequest: number
  /**
   * The part of it in core's frames (the gate, the cache, the clock): with inlining on, the
   * adapter's frame is also charged with the framework code V8 inlines into it.
   */
  coreBytesPerRequest: number
  /** The same in the bare app, with its `passThrough` middleware (only `next()`) on top. */
  passThroughBytesPerRequest: number
  /** Every byte the middleware server allocated per request (sampled). */
  sampledBytesPerRequest: number
  oursAllocating: Record<string, number>
}

const PATHS = ["gate", "node", "web"] as const
const ENTRIES = ["polled", "watched"] as const

function admitLoop(
  path: string,
  entry: string,
  iterations: number,
  intervalBytes: number,
): Promise<AdmitLoopAllocation> {
  return runForJson<AdmitLoopAllocation>(
    [
      "--conditions=source",
      "--expose-gc",
      // A new space larger than the loop could fill: no scavenge inside it.
      "--min-semi-space-size=64",
      "--max-semi-space-size=64",
      "--import",
      "tsx",
      here("./admit-loop.ts"),
      "none",
      String(iterations),
      path,
      entry,
      String(intervalBytes),
    ],
    `admit-loop ${path} ${entry}`,
  )
}

export async function measureAdmitLoopAllocation(
  iterations: number,
  intervalBytes: number,
): Promise<AdmitLoopAllocation[]> {
  const rows: AdmitLoopAllocation[] = []
  for (const entry of ENTRIES) {
    for (const path of PATHS) {
      const r = await admitLoop(path, entry, iterations, intervalBytes)
      rows.push({
        path,
        entry,
        heapBytesPerAdmit: r.heapBytesPerAdmit,
        sampledBytesPerAdmit: r.sampledBytesPerAdmit,
        oursSampledBytesPerAdmit: r.oursSampledBytesPerAdmit,
        oursAllocating: r.oursAllocating,
      })
    }
  }
  return rows
}

/** One warm server under load, its heap sampled once warm. */
function sampleServer(
  framework: string,
  variant: Variant,
  setup: ServerSetup,
  seconds: number,
  interval: number,
) {
  return withWarmServer(framework, variant, setup, async (server) => {
    await fetch(`${server.probeUrl}/heap/start?intervalBytes=${interval}`)
    const { requests } = await load(server.url, seconds)
    const sample = (await (await fetch(`${server.probeUrl}/heap/stop`)).json()) as HeapSample
    return { requests, sample }
  })
}

/**
 * The servers sampled per adapter. With TurboFan inlining off, the framework code a middleware
 * calls is never charged to the middleware's frame. With it on (as in production), what V8
 * inlines into our frames allocates in them, or not at all: the clock's read of a polled entry
 * allocates nothing only once inlined.
 */
const SERVER_RUNS: { entry: Entry; inlining: boolean }[] = [
  { entry: "watched", inlining: false },
  { entry: "watched", inlining: true },
  { entry: "polled", inlining: true },
]

/**
 * What a warm request through one adapter allocates in our code, beside what the bare app's
 * middleware that only calls `next()` is charged with (sampled once per inlining mode): V8
 * charges the frame that calls the framework's `next` with some of the framework's own
 * allocations (Express's, about 50 bytes).
 */
export async function measureServerAllocation(
  framework: string,
  seconds: number,
  intervalBytes: number,
  warmUpSeconds: number,
  log: (row: ServerAllocation) => void = () => {},
): Promise<ServerAllocation[]> {
  const bare = new Map<boolean, Awaited<ReturnType<typeof sampleServer>>>()
  const rows: ServerAllocation[] = []
  for (const { entry, inlining } of SERVER_RUNS) {
    const setup = { entry, inlining, warmUpSeconds }
    const withUs = await sampleServer(framework, "middleware", setup, seconds, intervalBytes)
    let app = bare.get(inlining)
    if (app === undefined) {
      app = await sampleServer(framework, "bare", setup, seconds, intervalBytes)
      bare.set(inlining, app)
    }
    const perRequest = (bytes: number) => round(bytes / withUs.requests, 1)
    const row: ServerAllocation = {
      framework,
      entry,
      inlining,
      oursBytesPerRequest: perRequest(withUs.sample.oursBytes),
      coreBytesPerRequest: perRequest(withUs.sample.coreBytes),
      passThroughBytesPerRequest: round(app.sample.passThroughBytes / app.requests, 1),
      sampledBytesPerRequest: Math.round(withUs.sample.totalBytes / withUs.requests),
      oursAllocating: withUs.sample.ours,
    }
    rows.push(row)
    log(row)
  }
  return rows
}

export interface WarmAllocation {
  iterations: number
  intervalBytes: number
  admitLoop: AdmitLoopAllocation[]
  servers: ServerAllocation[]
}

export async function measureWarmAllocation(settings: {
  iterations: number
  seconds: number
  intervalBytes: number
  /** Load on each server before it is sampled; default WARM_UP_SECONDS. */
  warmUpSeconds?: number
  log: (line: string) => void
  frameworks?: string[]
  /** Only the servers, or only the admit loop. */
  only?: "servers" | "loop"
}): Promise<WarmAllocation> {
  const { iterations, seconds, intervalBytes, log, only } = settings
  const admitLoop =
    only === "servers" ? [] : await measureAdmitLoopAllocation(iterations, intervalBytes)
  for (const row of admitLoop) log(`  ${JSON.stringify(row)}`)
  const servers: ServerAllocation[] = []
  for (const framework of only === "loop" ? [] : (settings.frameworks ?? FRAMEWORKS)) {
    const warmUp = settings.warmUpSeconds ?? WARM_UP_SECONDS
    const rows = await measureServerAllocation(framework, seconds, intervalBytes, warmUp, (row) =>
      log(`  ${JSON.stringify(row)}`),
    )
    servers.push(...rows)
  }
  return { iterations, intervalBytes, admitLoop, servers }
}

const FRAMEWORKS = ["express", "koa", "hono"]

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `warm-alloc.ts [ITERATIONS] [SECONDS] [INTERVAL_BYTES] [--servers|--loop] [FRAMEWORK…]`
  const args = process.argv.slice(2)
  const flags = args.filter((a) => a.startsWith("--"))
  const [iterations = "100000", seconds = "3", interval = "128", ...frameworks] = args.filter(
    (a) => !a.startsWith("--"),
  )
  await measureWarmAllocation({
    iterations: Number(iterations),
    seconds: Number(seconds),
    intervalBytes: Number(interval),
    log: (line) => process.stdout.write(`${line}\n`),
    ...(frameworks.length > 0 && { frameworks }),
    ...(flags.includes("--servers") && { only: "servers" as const }),
    ...(flags.includes("--loop") && { only: "loop" as const }),
  })
}

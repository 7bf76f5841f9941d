import { fileURLToPath } from "node:url"
import { here, runForJson } from "./child.js"
import type { HeapSample } from "./heap-profile.js"
import { round } from "./stats.js"
import { load, startServer, stop, type Variant } from "./warm.js"

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
  /** Bytes sampled per request with scaleFromZero's frame (or any of ours) on top of the stack. */
  oursBytesPerRequest: number
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

/**
 * One warm server under load, its heap sampled once warm; TurboFan inlining off, so that the
 * framework code a middleware calls is never charged to the middleware's frame.
 */
async function sampleServer(
  framework: string,
  variant: Variant,
  seconds: number,
  interval: number,
) {
  const server = await startServer(framework, variant, ["--no-turbo-inlining"])
  try {
    await load(server.url, 1) // warm up: the first (cold) request, then optimised code
    await fetch(`${server.probeUrl}/heap/start?intervalBytes=${interval}`)
    const { requests } = await load(server.url, seconds)
    const sample = (await (await fetch(`${server.probeUrl}/heap/stop`)).json()) as HeapSample
    return { requests, sample }
  } finally {
    await stop(server.child)
  }
}

/**
 * What a warm request through one adapter allocates in our code, beside what the bare app's
 * middleware that only calls `next()` is charged with: V8 charges the frame that calls the
 * framework's `next` with some of the framework's own allocations (Express's, about 50 bytes).
 */
export async function measureServerAllocation(
  framework: string,
  seconds: number,
  intervalBytes: number,
): Promise<ServerAllocation> {
  const withUs = await sampleServer(framework, "middleware", seconds, intervalBytes)
  const bare = await sampleServer(framework, "bare", seconds, intervalBytes)
  return {
    framework,
    oursBytesPerRequest: round(withUs.sample.oursBytes / withUs.requests, 1),
    passThroughBytesPerRequest: round(bare.sample.passThroughBytes / bare.requests, 1),
    sampledBytesPerRequest: Math.round(withUs.sample.totalBytes / withUs.requests),
    oursAllocating: withUs.sample.ours,
  }
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
  log: (line: string) => void
}): Promise<WarmAllocation> {
  const { iterations, seconds, intervalBytes, log } = settings
  const admitLoop = await measureAdmitLoopAllocation(iterations, intervalBytes)
  for (const row of admitLoop) log(`  ${JSON.stringify(row)}`)
  const servers: ServerAllocation[] = []
  for (const framework of ["express", "koa", "hono"]) {
    servers.push(await measureServerAllocation(framework, seconds, intervalBytes))
    log(`  ${JSON.stringify(servers.at(-1))}`)
  }
  return { iterations, intervalBytes, admitLoop, servers }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `warm-alloc.ts [ITERATIONS] [SECONDS] [INTERVAL_BYTES]`
  const [iterations = "100000", seconds = "3", interval = "128"] = process.argv.slice(2)
  await measureWarmAllocation({
    iterations: Number(iterations),
    seconds: Number(seconds),
    intervalBytes: Number(interval),
    log: (line) => process.stdout.write(`${line}\n`),
  })
}

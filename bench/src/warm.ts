import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { median, round } from "./stats.js"

const FRAMEWORKS = ["express", "koa", "hono"] as const
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const autocannonCli = createRequire(import.meta.url).resolve("autocannon/autocannon.js")

export interface WarmOverhead {
  framework: string
  bareRps: number
  middlewareRps: number
  /** middleware ÷ bare throughput, medians of interleaved runs. */
  throughputRatio: number
  addedP50Ms: number
  addedP99Ms: number
  runs: number
}

interface Run {
  rps: number
  p50: number
  p99: number
}

async function startServer(framework: string, variant: "bare" | "middleware") {
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", here("./warm-server.ts"), framework, variant],
    { stdio: ["ignore", "pipe", "inherit"], cwd: here("..") },
  )
  const port = await new Promise<number>((resolve, reject) => {
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const line = output.split("\n").find((l) => l.startsWith("{"))
      if (line) resolve((JSON.parse(line) as { port: number }).port)
    })
    child.once("exit", (code) =>
      reject(new Error(`${framework} ${variant} server exited with ${code}`)),
    )
    setTimeout(
      () => reject(new Error(`${framework} ${variant} server did not start`)),
      30_000,
    ).unref()
  })
  return { child, url: `http://127.0.0.1:${port}/function/echo/hello` }
}

function load(url: string, seconds: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [autocannonCli, "--json", "--connections", "50", "--duration", String(seconds), url],
      { stdio: ["ignore", "pipe", "ignore"] },
    )
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}`))
      const result = JSON.parse(output) as {
        requests: { average: number }
        latency: { p50: number; p99: number }
        non2xx: number
        errors: number
      }
      if (result.non2xx > 0 || result.errors > 0) {
        return reject(
          new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`),
        )
      }
      resolve({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 })
    })
  })
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

/** The same app with an empty middleware and with scaleFromZero, loaded in interleaved runs. */
export async function measureWarmOverhead(settings: {
  seconds: number
  rounds: number
  log: (line: string) => void
}): Promise<WarmOverhead[]> {
  const results: WarmOverhead[] = []
  for (const framework of FRAMEWORKS) {
    if (!existsSync(here(`../../packages/${framework}/src/index.ts`))) {
      settings.log(`  ${framework}: adapter not present, not measured`)
      continue
    }
    const bare = await startServer(framework, "bare")
    const middleware = await startServer(framework, "middleware")
    try {
      await load(bare.url, 1) // warm both up before measuring
      await load(middleware.url, 1)
      const runs: Record<"bare" | "middleware", Run[]> = { bare: [], middleware: [] }
      for (let round = 0; round < settings.rounds; round++) {
        const order =
          round % 2 === 0 ? (["bare", "middleware"] as const) : (["middleware", "bare"] as const)
        for (const variant of order) {
          const server = variant === "bare" ? bare : middleware
          runs[variant].push(await load(server.url, settings.seconds))
        }
      }
      const m = (variant: "bare" | "middleware", key: keyof Run) =>
        median(runs[variant].map((r) => r[key]))
      const result: WarmOverhead = {
        framework,
        bareRps: round(m("bare", "rps"), 0),
        middlewareRps: round(m("middleware", "rps"), 0),
        throughputRatio: round(m("middleware", "rps") / m("bare", "rps"), 3),
        addedP50Ms: round(m("middleware", "p50") - m("bare", "p50")),
        addedP99Ms: round(m("middleware", "p99") - m("bare", "p99")),
        runs: settings.rounds,
      }
      results.push(result)
      settings.log(`  ${JSON.stringify(result)}`)
    } finally {
      await Promise.all([stop(bare.child), stop(middleware.child)])
    }
  }
  return results
}

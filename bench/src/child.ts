// The benchmark's child processes: each measured thing runs in a Node process of its own (so
// the load never shares its thread), started from bench/ with the workspace's sources.
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

/** A path relative to bench/src. */
export const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

const autocannonCli = createRequire(import.meta.url).resolve("autocannon/autocannon.js")

/** `node ARGS`, run to its end from bench/: what it printed on stdout, parsed as JSON. */
export function runForJson<T>(args: string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "inherit"],
      cwd: here(".."),
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once("exit", (code) =>
      code === 0 ? resolve(JSON.parse(output) as T) : reject(new Error(`${what}: exit ${code}`)),
    )
  })
}

/**
 * Starts `node ARGS` from bench/ as a server that prints one JSON line (its port, …) once it
 * listens: the process and that line, within 30 s.
 */
export async function startServerProcess<T>(
  args: string[],
  what: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; started: T }> {
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "inherit"],
    cwd: here(".."),
    env,
  })
  const started = await new Promise<T>((resolve, reject) => {
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const line = output.split("\n").find((l) => l.startsWith("{"))
      if (line) resolve(JSON.parse(line) as T)
    })
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code}`)))
    setTimeout(() => reject(new Error(`${what} did not start`)), 30_000).unref()
  })
  return { child, started }
}

/** What the benchmarks read of an autocannon run (its `--json` output). */
export interface AutocannonResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number }
  non2xx: number
  errors: number
  timeouts: number
}

/** One autocannon run against `url`, in a process of its own. */
export function autocannon(
  url: string,
  options: { connections: number; seconds: number; pipelining?: number },
): Promise<AutocannonResult> {
  const args = [autocannonCli, "--json", "--connections", String(options.connections)]
  if (options.pipelining !== undefined) args.push("--pipelining", String(options.pipelining))
  args.push("--duration", String(options.seconds), url)
  return runForJson<AutocannonResult>(args, `autocannon ${url}`)
}

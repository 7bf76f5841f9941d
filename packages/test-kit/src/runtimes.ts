import { spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"

/** Where .ci/setup-deno-bun.sh installs Deno and Bun; SFZ_RUNTIMES_DIR points the tests elsewhere. */
export const RUNTIMES_DIR = process.env.SFZ_RUNTIMES_DIR ?? "/opt/scale-from-zero-runtimes"

export type Runtime = "deno" | "bun"

/** The runtime's binary: the setup's, else one on PATH; undefined when neither runs. */
export function findRuntime(runtime: Runtime): string | undefined {
  const installed = join(RUNTIMES_DIR, "node_modules", ".bin", runtime)
  for (const candidate of existsSync(installed) ? [installed, runtime] : [runtime]) {
    const probe = spawnSync(candidate, ["--version"], { timeout: 10_000 })
    if (probe.status === 0) return candidate
  }
  return undefined
}

/**
 * Under CI a missing runtime is a failure: throws. Elsewhere returns undefined and prints the
 * reason to skip once.
 */
export function requireRuntime(runtime: Runtime): string | undefined {
  const found = findRuntime(runtime)
  if (found !== undefined) return found
  const problem = `no ${runtime} in ${RUNTIMES_DIR} or on PATH; run .ci/setup-deno-bun.sh`
  if (process.env.CI === "true") throw new Error(`CI needs ${runtime}: ${problem}`)
  console.warn(`skipping ${runtime} tests: ${problem}`)
  return undefined
}

export interface RuntimeServer {
  /** `http://127.0.0.1:PORT`, read from the line the server prints once it listens. */
  readonly url: string
  /** Everything the server wrote to stderr so far. */
  stderr(): string
  /** Sends SIGTERM and waits (5 s at most, then SIGKILL) for the process to exit. */
  stop(): Promise<void>
}

/**
 * Starts `binary args…` and resolves once it prints `http://HOST:PORT` on stdout (within
 * `readyWithinMs`); rejects with its output when it exits or stays silent.
 */
export function startRuntimeServer(
  binary: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; readyWithinMs?: number },
): Promise<RuntimeServer> {
  const child = spawn(binary, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  let stdout = ""
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    await exited
    clearTimeout(timer)
  }
  let listening = false
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer)
      void stop()
      reject(new Error(`${binary} ${args.join(" ")} ${why}\nstdout: ${stdout}\nstderr: ${stderr}`))
    }
    const timer = setTimeout(
      () => fail(`printed no URL within ${options.readyWithinMs ?? 30_000} ms`),
      options.readyWithinMs ?? 30_000,
    )
    const early = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited (${code ?? signal}) before listening`)
    child.once("exit", early)
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      const found = /http:\/\/[\w.:[\]-]+:\d+/.exec(stdout)
      if (found === null || listening) return
      listening = true
      clearTimeout(timer)
      child.off("exit", early)
      resolve({ url: found[0], stderr: () => stderr, stop })
    })
  })
}

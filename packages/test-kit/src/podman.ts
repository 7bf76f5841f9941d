// Test helpers for a real engine: podman's Docker API, as .ci/setup-podman.sh sets it up.
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import http from "node:http"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { collectJsonAnswer } from "./json-answer.js"

export const PODMAN_SOCKET =
  process.env.SFZ_PODMAN_SOCKET ?? "/run/scale-from-zero-podman/podman.sock"
export const PODMAN_IMAGE = process.env.SFZ_PODMAN_IMAGE ?? "localhost/sfz-busybox:latest"
const CONTAINERS_CONF = process.env.CONTAINERS_CONF ?? "/etc/scale-from-zero/containers.conf"
const run = promisify(execFile)

/** A raw Docker API call over a unix socket, for test setup (create, remove, inspect). */
export function api(
  method: string,
  path: string,
  body?: unknown,
  socketPath = PODMAN_SOCKET,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const request = http.request(
      {
        socketPath,
        path: `/v1.41${path}`,
        method,
        headers: payload ? { "content-type": "application/json" } : {},
        timeout: 30_000,
      },
      (response) => collectJsonAnswer(response, resolve),
    )
    request.on("timeout", () => request.destroy(new Error(`${method} ${path} timed out`)))
    request.on("error", reject)
    request.end(payload)
  })
}

/** Why the engine cannot be used, or undefined when it answers. */
export async function engineProblem(): Promise<string | undefined> {
  try {
    const { status } = await api("GET", "/_ping")
    if (status !== 200) return `podman API at ${PODMAN_SOCKET} answered ${status} to /_ping`
    const image = await api("GET", `/images/${encodeURIComponent(PODMAN_IMAGE)}/json`)
    if (image.status !== 200) return `image ${PODMAN_IMAGE} is missing (run .ci/setup-podman.sh)`
    return undefined
  } catch (error) {
    return `no podman API at ${PODMAN_SOCKET} (${(error as Error).message}); run .ci/setup-podman.sh as root`
  }
}

/**
 * Under CI a missing engine is a failure: throws. Elsewhere returns the reason to skip,
 * printed once, or undefined when the engine answers.
 */
export async function requireEngine(): Promise<string | undefined> {
  const problem = await engineProblem()
  if (problem === undefined) return undefined
  if (process.env.CI === "true") throw new Error(`CI needs a real container engine: ${problem}`)
  console.warn(`skipping Docker engine tests: ${problem}`)
  return problem
}

/** A name unique to this test run, so parallel or leftover runs never collide. */
export function uniqueName(prefix: string): string {
  return `sfz-${prefix}-${randomBytes(4).toString("hex")}`
}

export interface ContainerSpec {
  name: string
  labels: Record<string, string>
  /** Command line; default: an httpd on `port` that exits promptly on SIGTERM. */
  cmd?: string[]
  port?: number
  /** Healthcheck command (run only by `podman healthcheck run`, see runHealthcheck). */
  healthcheck?: string[]
}

/** The command of an httpd serving /www on `port`, exiting at once on SIGTERM (PID 1 ignores it otherwise). */
export function httpdCommand(port: number): string[] {
  return ["sh", "-c", `trap 'exit 0' TERM; httpd -f -p 127.0.0.1:${port} -h /www & wait`]
}

export async function createContainer(spec: ContainerSpec): Promise<string> {
  const cmd = spec.cmd ?? httpdCommand(spec.port ?? 0)
  const { status, body } = await api("POST", `/containers/create?name=${spec.name}`, {
    Image: PODMAN_IMAGE,
    Cmd: cmd,
    Labels: spec.labels,
    HostConfig: { NetworkMode: "host" },
    ...(spec.healthcheck && {
      Healthcheck: { Test: ["CMD", ...spec.healthcheck], Interval: 1e9, Timeout: 5e9, Retries: 1 },
    }),
  })
  if (status !== 201) throw new Error(`create ${spec.name}: ${status} ${JSON.stringify(body)}`)
  return (body as { Id: string }).Id
}

export async function removeContainers(names: string[]): Promise<void> {
  await Promise.all(names.map((name) => api("DELETE", `/containers/${name}?force=true&v=true`)))
}

export async function containerState(name: string): Promise<string | undefined> {
  const { status, body } = await api("GET", `/containers/${name}/json`)
  if (status !== 200) return undefined
  return (body as { State: { Status: string } }).State.Status
}

/** Runs the container's healthcheck once (podman runs none on a timer without systemd). */
export async function runHealthcheck(name: string): Promise<boolean> {
  try {
    await run("podman", ["--storage-driver=vfs", "healthcheck", "run", name], {
      env: { ...process.env, CONTAINERS_CONF },
      timeout: 10_000,
    })
    return true
  } catch {
    return false
  }
}

/**
 * What a healthcheck timer would do: every `everyMs`, runs the healthcheck of each running
 * container labelled `label` (`key=value`) whose health is still "starting".
 */
export function healthNudger(label: string, everyMs = 150): { stop(): Promise<void> } {
  let stopped = false
  const filters = encodeURIComponent(JSON.stringify({ label: [label], status: ["running"] }))
  const nudge = async () => {
    const { body } = await api("GET", `/containers/json?filters=${filters}`)
    const running = Array.isArray(body) ? (body as { Id: string }[]) : []
    await Promise.all(
      running.map(async ({ Id }) => {
        const { body: inspected } = await api("GET", `/containers/${Id}/json`)
        const health = (inspected as { State?: { Health?: { Status?: string } } })?.State?.Health
        if (health?.Status === "starting") await runHealthcheck(Id)
      }),
    )
  }
  const loop = (async () => {
    while (!stopped) {
      await nudge().catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return {
    async stop() {
      stopped = true
      await loop
    },
  }
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })
}

/** A second podman API service (same storage) on its own socket or TCP port: one a test may kill. */
export interface SpareService {
  readonly socketPath: string | undefined
  readonly url: string
  readonly child: ChildProcess
  kill(): Promise<void>
}

export async function startSpareService(listen: "unix" | { port: number }): Promise<SpareService> {
  const socketPath = listen === "unix" ? join(tmpdir(), `${uniqueName("api")}.sock`) : undefined
  const url =
    socketPath !== undefined
      ? `unix://${socketPath}`
      : `tcp://127.0.0.1:${(listen as { port: number }).port}`
  const child = spawn("podman", ["--storage-driver=vfs", "system", "service", "--time=0", url], {
    env: { ...process.env, CONTAINERS_CONF },
    stdio: "ignore",
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await exited
    if (socketPath !== undefined) rmSync(socketPath, { force: true })
  }
  const deadline = Date.now() + 15_000
  for (;;) {
    const ok = await ping(socketPath, listen === "unix" ? undefined : listen.port)
    if (ok) return { socketPath, url, child, kill }
    if (Date.now() > deadline || child.exitCode !== null) {
      await kill()
      throw new Error(`podman API service on ${url} did not answer within 15s`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function ping(socketPath: string | undefined, port: number | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.request(
      {
        ...(socketPath !== undefined ? { socketPath } : { host: "127.0.0.1", port }),
        path: "/_ping",
        timeout: 1000,
      },
      (response) => {
        response.resume()
        resolve(response.statusCode === 200)
      },
    )
    request.on("timeout", () => request.destroy())
    request.on("error", () => resolve(false))
    request.end()
  })
}

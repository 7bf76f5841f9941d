import cluster, { type Worker } from "node:cluster"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type ClusterShared, createClusterShared } from "@scale-from-zero/core/node"
import type Koa from "koa"

/** What one process serves: the Koa app, and what to stop before it exits. */
export interface Served {
  app: Koa
  close(): void
}

/** Where the gateway listens, and which processes serve it (the workers, or this one). */
export interface Listening {
  port: number
  pids: number[]
}

/** Longest wait for the connections in flight on SIGTERM before a process exits anyway. */
const SHUTDOWN_GRACE_MS = 5_000

/**
 * Serves `build()`'s app on `port`: in this process when `workers` is 1; otherwise this process
 * is the primary of `workers` node:cluster workers sharing the port, which act as one gateway
 * through the cluster state (`shared`: one scale call per cold burst, reads not multiplied).
 * SIGTERM or SIGINT stops every process; a worker that dies after it listened is replaced, one
 * that dies before stops the whole gateway (exit code 1). `onListening` is called once.
 */
export function serve(
  settings: { port: number; workers: number },
  build: (shared: ClusterShared | undefined) => Served,
  onListening: (listening: Listening) => void,
): void {
  if (settings.workers > 1 && cluster.isPrimary) primary(settings, onListening)
  else worker(settings.port, build, cluster.isWorker ? undefined : onListening)
}

function primary(settings: { workers: number }, onListening: (listening: Listening) => void) {
  const shared = createClusterShared()
  const alive = new Set<Worker>()
  const listened = new Set<Worker>()
  let reported = false
  let stopping = false
  let exitCode = 0
  const fork = () => alive.add(cluster.fork())

  cluster.on("listening", (worker, address) => {
    listened.add(worker)
    if (reported || listened.size < settings.workers) return
    reported = true
    onListening({ port: address.port, pids: [...alive].map((w) => w.process.pid ?? 0) })
  })
  cluster.on("exit", (worker, code, signal) => {
    alive.delete(worker)
    const hadListened = listened.delete(worker)
    if (stopping) {
      if (alive.size === 0) finish(exitCode)
      return
    }
    const how = signal ?? `code ${code}`
    if (!hadListened) {
      console.error(`worker ${worker.process.pid} exited (${how}) before it listened: stopping`)
      stop(1)
      return
    }
    console.error(`worker ${worker.process.pid} exited (${how}): starting another`)
    fork()
  })

  const finish = (code: number) => {
    shared.close()
    process.exit(code)
  }
  const stop = (code: number) => {
    if (stopping) return
    stopping = true
    exitCode = code
    if (alive.size === 0) finish(code)
    // Each worker stops as a lone gateway does; the stragglers are killed past the grace time.
    for (const w of alive) w.process.kill("SIGTERM")
    setTimeout(() => {
      for (const w of alive) w.process.kill("SIGKILL")
      finish(code)
    }, SHUTDOWN_GRACE_MS + 1_000).unref()
  }
  process.once("SIGTERM", () => stop(0))
  process.once("SIGINT", () => stop(0))
  for (let i = 0; i < settings.workers; i++) fork()
}

function worker(
  port: number,
  build: (shared: ClusterShared | undefined) => Served,
  onListening: ((listening: Listening) => void) | undefined,
) {
  const shared = cluster.isWorker ? createClusterShared() : undefined
  const served = build(shared)
  const server: Server = served.app.listen(port, () => {
    const bound = (server.address() as AddressInfo).port
    onListening?.({ port: bound, pids: [process.pid] })
  })
  const shutdown = () => {
    served.close()
    shared?.close()
    server.close(() => process.exit(0))
    // Held keep-alive connections must not keep a stopping gateway alive.
    server.closeIdleConnections()
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref()
  }
  process.once("SIGTERM", shutdown)
  process.once("SIGINT", shutdown)
}

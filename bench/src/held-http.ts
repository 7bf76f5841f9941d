// Heap per request held through real HTTP: scaleFromZero on Express, Koa and Hono (on Node),
// each beside a bare app of its own framework holding the same requests (its handler answers
// only when released), and what is left once they are all answered and their clients gone.
// Run alone: `held-http.ts N [express,koa,hono] [rounds]`, with --expose-gc; `pnpm bench` runs
// it as part of section 5.
import { Agent, request as httpRequest, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { pathToFileURL } from "node:url"
import type { GateOptions } from "@scale-from-zero/core"
import { createSimulatedBackend, type SimulatedBackend } from "./simulated-backend.js"

export type Framework = "express" | "koa" | "hono"
type Variant = "bare" | "gate"

const collect = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const until = async (done: () => boolean | Promise<boolean>, what: string) => {
  const deadline = Date.now() + 60_000
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await pause(5)
  }
}

/** One app: counts arrivals; holds (bare: until released) or gates each request, then answers. */
interface App {
  server: Server
  /** Requests that reached the app. */
  arrived(): number
  /** Answers every held request: the bare app's own, or the service turning ready. */
  release(): void
  /** Back to holding: the gate scales its service to zero (`gate.sleep`). */
  reset(): Promise<void>
  close(): void
}

async function startApp(framework: Framework, variant: Variant, held: number): Promise<App> {
  let arrived = 0
  const backend: SimulatedBackend = createSimulatedBackend({ svc: 3_600_000 }, { push: true })
  const options: GateOptions = { serviceQuery: backend, timeout: 600_000, maxWaiting: held + 10 }
  // The bare apps' held requests: answered on release.
  const pending: (() => void)[] = []
  const releaseBare = () => {
    for (const answer of pending.splice(0)) answer()
  }
  const release = variant === "bare" ? releaseBare : () => backend.makeReady("svc")
  let closeGate = () => {}
  let reset = async () => {}
  let server: Server
  switch (framework) {
    case "express": {
      const { default: express } = await import("express")
      const { scaleFromZero } = await import("@scale-from-zero/express")
      const app = express()
      app.use((_req, _res, next) => {
        arrived++
        next()
      })
      if (variant === "gate") {
        const gate = scaleFromZero(options)
        app.use(gate)
        closeGate = () => gate.close()
        reset = async () => void (await gate.gate.sleep("svc"))
        app.use((_req, res) => res.end("ok"))
      } else {
        app.use((_req, res: ServerResponse) => pending.push(() => res.end("ok")))
      }
      server = await listen((ready) => app.listen(0, "127.0.0.1", ready))
      break
    }
    case "koa": {
      const { default: Koa } = await import("koa")
      const { scaleFromZero } = await import("@scale-from-zero/koa")
      const app = new Koa()
      app.use((_ctx, next) => {
        arrived++
        return next()
      })
      if (variant === "gate") {
        const gate = scaleFromZero(options)
        app.use(gate)
        closeGate = () => gate.close()
        reset = async () => void (await gate.gate.sleep("svc"))
        app.use((ctx) => {
          ctx.body = "ok"
        })
      } else {
        app.use(
          (ctx) =>
            new Promise<void>((resolve) =>
              pending.push(() => {
                ctx.body = "ok"
                resolve()
              }),
            ),
        )
      }
      server = await listen((ready) => app.listen(0, "127.0.0.1", ready))
      break
    }
    case "hono": {
      const { Hono } = await import("hono")
      const { serve } = await import("@hono/node-server")
      const { scaleFromZero } = await import("@scale-from-zero/hono")
      const app = new Hono()
      app.use((_c, next) => {
        arrived++
        return next()
      })
      if (variant === "gate") {
        const gate = scaleFromZero(options)
        app.use(gate)
        closeGate = () => gate.close()
        reset = async () => void (await gate.gate.sleep("svc"))
        app.get("*", (c) => c.text("ok"))
      } else {
        app.get(
          "*",
          (c) => new Promise<Response>((resolve) => pending.push(() => resolve(c.text("ok")))),
        )
      }
      server = await new Promise<Server>((resolve) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () =>
          resolve(s as Server),
        )
      })
      break
    }
  }
  const close = () => {
    closeGate()
    backend.close()
  }
  return { server, arrived: () => arrived, release, reset, close }
}

function listen(open: (ready: () => void) => Server): Promise<Server> {
  return new Promise((resolve) => {
    const server = open(() => resolve(server))
  })
}

/** Open connections, as the server counts them. */
function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  )
}

/** One app's figures: two passes of `count` held, released and answered, clients gone. */
interface AppFigures {
  /** Heap bytes per request while held (second pass: nothing left to compile). */
  heldBytesEach: number
  /** Heap bytes per request left after each pass, from before the first: a leak grows. */
  leftBytesEach: [number, number]
}

/** `count` requests held by one app, then released and answered, twice. */
async function holdAndRelease(
  framework: Framework,
  variant: Variant,
  count: number,
): Promise<AppFigures> {
  const app = await startApp(framework, variant, count)
  const { port } = app.server.address() as AddressInfo
  let baseline = 0
  let heldBytesEach = 0
  const left: number[] = []
  for (let pass = 0; pass < 2; pass++) {
    const agent = new Agent({ keepAlive: true, maxSockets: count + 10 })
    let answered = 0
    const arrivedBefore = app.arrived()
    const send = () =>
      httpRequest({ port, host: "127.0.0.1", path: "/function/svc/x", agent }, (response) => {
        response.resume()
        response.on("end", () => answered++)
      })
        .on("error", () => {})
        .end()
    send() // the first: starts the wake, held with the others
    await until(() => app.arrived() > arrivedBefore, "the first request")
    await pause(20)
    await collect()
    const before = process.memoryUsage().heapUsed
    if (pass === 0) baseline = before
    for (let i = 0; i < count; i++) send()
    await until(() => app.arrived() >= arrivedBefore + count + 1, "every request to arrive")
    await pause(50)
    await collect()
    heldBytesEach = (process.memoryUsage().heapUsed - before) / count
    if (answered !== 0) throw new Error(`${answered} answered before the release`)
    app.release()
    await until(() => answered === count + 1, "every answer")
    // The clients hang up: whatever the answered requests kept must go with their connections.
    agent.destroy()
    await until(async () => (await connections(app.server)) === 0, "every connection to close")
    await app.reset()
    await pause(50)
    await collect()
    left.push((process.memoryUsage().heapUsed - baseline) / count)
  }
  await new Promise((resolve) => app.server.close(resolve))
  app.close()
  await collect()
  return { heldBytesEach, leftBytesEach: [left[0] ?? 0, left[1] ?? 0] }
}

/** One framework's round: its bare app, then scaleFromZero, same requests. */
export interface HeldHttpRound {
  framework: Framework
  held: number
  bareBytesEach: number
  gateBytesEach: number
  /** What scaleFromZero adds per held request: the target is ≤ 1 KiB. */
  addedBytesEach: number
  /** Left per request after each pass, bare app and scaleFromZero: growth would be a leak. */
  bareLeftBytesEach: [number, number]
  gateLeftBytesEach: [number, number]
}

/** Rounds of every framework in turn, after one unreported round that compiles every path. */
export async function measureHeldHttp(
  held: number,
  rounds: number,
  frameworks: readonly Framework[] = ["express", "koa", "hono"],
  log: (row: HeldHttpRound) => void = () => {},
): Promise<HeldHttpRound[]> {
  if (globalThis.gc === undefined) throw new Error("run with node --expose-gc")
  // As many as measured: the hot paths are optimised before, not during, the first round.
  for (const framework of frameworks) {
    await holdAndRelease(framework, "bare", held)
    await holdAndRelease(framework, "gate", held)
  }
  const rows: HeldHttpRound[] = []
  const r = Math.round
  for (let round = 0; round < rounds; round++) {
    for (const framework of frameworks) {
      const bare = await holdAndRelease(framework, "bare", held)
      const gate = await holdAndRelease(framework, "gate", held)
      const row: HeldHttpRound = {
        framework,
        held,
        bareBytesEach: r(bare.heldBytesEach),
        gateBytesEach: r(gate.heldBytesEach),
        addedBytesEach: r(gate.heldBytesEach - bare.heldBytesEach),
        bareLeftBytesEach: [r(bare.leftBytesEach[0]), r(bare.leftBytesEach[1])],
        gateLeftBytesEach: [r(gate.leftBytesEach[0]), r(gate.leftBytesEach[1])],
      }
      rows.push(row)
      log(row)
    }
  }
  return rows
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const held = Number(process.argv[2] ?? 2000)
  const frameworks = (process.argv[3] ?? "express,koa,hono").split(",") as Framework[]
  const rounds = Number(process.argv[4] ?? 3)
  await measureHeldHttp(held, rounds, frameworks, (row) =>
    process.stdout.write(`${JSON.stringify(row)}\n`),
  )
}

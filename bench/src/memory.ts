import {
  type AbortListener,
  createGate,
  type GatePass,
  type GateReply,
  type WaitSignal,
} from "@scale-from-zero/core"
import { createSimulatedBackend } from "./simulated-backend.js"
import { round } from "./stats.js"

export interface HeldMemory {
  held: number
  heapBytesPerRequest: number
  rssBytesPerRequest: number
  /** Heap not returned after each of two passes: a leak would grow from one pass to the next. */
  heapBytesLeftAfterRelease: [number, number]
}

const collect = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/**
 * A client's cancellation as light as the runtime bridges' (their held response): one object
 * keeping the gate's one listener. An AbortController would cost about 600 bytes more.
 */
class Client implements WaitSignal {
  aborted = false
  readonly reason = undefined
  private listener: AbortListener | undefined

  addEventListener(_type: "abort", listener: AbortListener): void {
    this.listener = listener
  }

  removeEventListener(_type: "abort", listener: AbortListener): void {
    if (this.listener === listener) this.listener = undefined
  }

  leave(): void {
    this.aborted = true
    const { listener } = this
    this.listener = undefined
    if (typeof listener === "function") listener()
    else listener?.handleEvent()
  }
}

/**
 * Heap and RSS per held request: `held` requests through the gate for a service that does not
 * start within the run, each with a client's cancellation as light as the bridges'.
 */
export async function measureHeldMemory(held: number): Promise<HeldMemory> {
  const first = await holdAndRelease(held)
  const second = await holdAndRelease(held)
  return {
    held,
    heapBytesPerRequest: second.heapBytesPerRequest,
    rssBytesPerRequest: second.rssBytesPerRequest,
    heapBytesLeftAfterRelease: [first.heapBytesLeft, second.heapBytesLeft],
  }
}

async function holdAndRelease(held: number) {
  if (globalThis.gc === undefined) throw new Error("run with node --expose-gc")
  const backend = createSimulatedBackend({ svc: 3_600_000 }, { push: true })
  const gate = createGate({ serviceQuery: backend, timeout: 600_000, maxWaiting: held + 1 })
  const headers = new Headers({ accept: "application/json" })
  // Warm up the code paths so compilation is not counted as per-request memory.
  const warmUp = new Client()
  const first = gate.admit({ method: "GET", path: "/function/svc", headers })
  if (first.kind !== "hold") throw new Error("expected a hold")
  const warmWait = gate.wait(first, warmUp)
  await new Promise((resolve) => setTimeout(resolve, 20))
  await collect()
  const heapBefore = process.memoryUsage().heapUsed
  const rssBefore = process.memoryUsage().rss

  const clients: Client[] = []
  const waits: Promise<GatePass | GateReply>[] = []
  for (let i = 0; i < held; i++) {
    const client = new Client()
    const verdict = gate.admit({ method: "GET", path: "/function/svc", headers })
    if (verdict.kind !== "hold") throw new Error("expected a hold")
    clients.push(client)
    waits.push(gate.wait(verdict, client))
  }
  await new Promise((resolve) => setTimeout(resolve, 20))
  await collect()
  const heapHeld = process.memoryUsage().heapUsed
  const rssHeld = process.memoryUsage().rss
  if (gate.scaler.totalWaiting !== held + 1) throw new Error(`expected ${held + 1} held`)

  for (const client of clients) client.leave()
  await Promise.all(waits)
  clients.length = 0
  waits.length = 0
  warmUp.leave()
  await warmWait
  await collect()
  const heapAfter = process.memoryUsage().heapUsed
  gate.close()
  backend.close()
  return {
    heapBytesPerRequest: round((heapHeld - heapBefore) / held, 0),
    rssBytesPerRequest: round((rssHeld - rssBefore) / held, 0),
    heapBytesLeft: heapAfter - heapBefore,
  }
}

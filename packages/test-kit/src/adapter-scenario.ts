// The app every adapter builds for the contract, described as plain data so that it can be
// rebuilt inside another runtime (workerd). Web APIs only: no node: imports, no vitest.
import type { Gate, RoutePolicy, ScaleFromZeroOptions } from "@scale-from-zero/core"
import {
  createMemoryServiceQuery,
  type MemoryServiceDefinition,
  type MemoryServiceQuery,
} from "@scale-from-zero/core/testing"

/** The backend and the options of one contract case. */
export interface ContractScenario {
  /** Memory backend services, by `name` or `name.namespace`. */
  services: Record<string, MemoryServiceDefinition>
  /** Every backend call fails with this message (a provider error). */
  failWith?: string
  /** Offer `watch` (push) or leave the gate to poll. Default true. */
  watch?: boolean
  /**
   * The first status read never settles (it ends only when its signal aborts): a hung
   * backend call, as a provider whose connection stalls makes one.
   */
  hangFirstRead?: boolean
  /** Gate options beyond the backend. */
  gate?: Omit<ScaleFromZeroOptions, "serviceQuery" | "resolve" | "onEvent">
  /**
   * More middlewares over the main one's gate (`scaleFromZero({ gate, ...policy })`), each
   * for the paths under its `prefix`, which it maps to `service`.
   */
  routes?: ContractRoute[]
}

/** One route's middleware: its paths, the service they need, its own policy (plain data). */
export interface ContractRoute {
  prefix: string
  service: string
  policy?: Omit<RoutePolicy, "resolve" | "wake" | "keepsAwake" | "prewarm">
}

/** A backend call or event, in order, with its time (epoch ms). */
export interface ContractLogEntry {
  what: "set-replicas" | "ready"
  service: string
  replicas?: number
  at: number
}

/** What the contract reads back from the app's gate and backend. */
export interface ContractStats {
  getReplicas: number
  setReplicas: number
  /** Requests held by the gate now. */
  totalWaiting: number
  /** Backend watches still open. */
  activeWatches: number
  /** `durationMs` of each `ready` event the gate emitted, in order. */
  readyDurations: number[]
  /** Every setReplicas call and ready event, in order. */
  log: ContractLogEntry[]
  /** The backend's available replicas of each scenario service in the default namespace. */
  availableReplicas: Record<string, number>
}

export interface ContractBackend {
  serviceQuery: MemoryServiceQuery
  options: ScaleFromZeroOptions
  /** The policies of `scenario.routes`, each with its resolver: pass each with the main gate. */
  routes: RoutePolicy[]
  stats(gate: Gate): ContractStats
  /** Sets a service's replicas behind the gate's back (an operator, OpenFaaS's idler, KEDA). */
  scaleExternally(service: string, replicas: number): Promise<void>
  close(gate: Gate): void
}

/** Routes of the contract app besides the gated ones. */
export const SCALE_PATH_PREFIX = "/system/scale-function/"

/**
 * A gated path whose next handler answers a server-sent-event stream instead of the echo:
 * STREAM_EVENTS events, one every STREAM_EVERY_MS, then the end of the body.
 */
export const STREAM_PATH = "/function/echo/events"
export const STREAM_EVENTS = 8
export const STREAM_EVERY_MS = 100

/** The contract's event stream as a Web body (Hono): `data: N` events, spaced out in time. */
export function eventStream(): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let sent = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  return new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => {
        timer = setTimeout(resolve, STREAM_EVERY_MS)
      })
      controller.enqueue(encoder.encode(`data: ${sent}\n\n`))
      if (++sent === STREAM_EVENTS) controller.close()
    },
    cancel() {
      clearTimeout(timer)
    },
  })
}

/** The backend and gate options a harness builds its app from. */
export function createContractBackend(scenario: ContractScenario): ContractBackend {
  const memory = createMemoryServiceQuery({
    services: scenario.services,
    ...(scenario.watch === false && { watch: false }),
  })
  if (scenario.failWith !== undefined) memory.failWith(new Error(scenario.failWith))
  const log: ContractLogEntry[] = []
  const serviceQuery = logging(scenario.hangFirstRead ? hangingFirstRead(memory) : memory, log)
  const readyDurations: number[] = []
  return {
    serviceQuery,
    options: {
      functionPollInterval: 20,
      cacheExpiry: 1000,
      ...scenario.gate,
      serviceQuery,
      onEvent: (event) => {
        if (event.type !== "ready") return
        readyDurations.push(event.durationMs)
        log.push({ what: "ready", service: event.service, at: Date.now() })
      },
    },
    routes: (scenario.routes ?? []).map(({ prefix, service, policy }) => ({
      ...policy,
      resolve: (request) => (request.path.startsWith(prefix) ? { name: service } : undefined),
    })),
    stats: (gate) => ({
      getReplicas: serviceQuery.calls.getReplicas,
      setReplicas: serviceQuery.calls.setReplicas,
      totalWaiting: gate.scaler.totalWaiting,
      activeWatches: serviceQuery.activeWatches,
      readyDurations: [...readyDurations],
      log: [...log],
      availableReplicas: Object.fromEntries(
        Object.keys(scenario.services)
          .filter((service) => !service.includes("."))
          .map((service) => [
            service,
            memory.status(service, "openfaas-fn")?.availableReplicas ?? 0,
          ]),
      ),
    }),
    scaleExternally: (service, replicas) =>
      serviceQuery.setReplicas(service, "openfaas-fn", replicas),
    close(gate) {
      gate.close()
      serviceQuery.close()
    },
  }
}

/** What the next handler after `scaleFromZero` answers: proof of what reached it. */
export interface EchoAnswer {
  method: string
  path: string
  /** Bytes of request body received. */
  bytes: number
  /** SHA-256 of the body received, hex. */
  sha256: string
}

/** What the next handler after `horizontalScaling` answers. */
export interface ScaleEchoAnswer {
  /** The parsed request the adapter handed on. */
  parsed: unknown
  /** The body a proxy would forward, as read by the next handler. */
  raw: string
  /** The Content-Length header the next handler sees. */
  contentLength: string | null
}

export async function echoAnswer(
  method: string,
  path: string,
  body: Uint8Array,
): Promise<EchoAnswer> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(body)))
  let sha256 = ""
  for (const byte of digest) sha256 += byte.toString(16).padStart(2, "0")
  return { method, path, bytes: body.byteLength, sha256 }
}

/** The memory backend whose first status read hangs until its signal aborts. */
function hangingFirstRead(memory: MemoryServiceQuery): MemoryServiceQuery {
  let reads = 0
  return Object.assign(Object.create(memory) as MemoryServiceQuery, {
    getReplicas: ((service, namespace, options) => {
      if (++reads > 1) return memory.getReplicas(service, namespace, options)
      memory.calls.getReplicas++
      return new Promise((_, reject) => {
        options?.signal?.addEventListener("abort", () => reject(options.signal?.reason), {
          once: true,
        })
      })
    }) satisfies MemoryServiceQuery["getReplicas"],
  })
}

/** The backend with every setReplicas call logged, with its time. */
function logging(memory: MemoryServiceQuery, log: ContractLogEntry[]): MemoryServiceQuery {
  return Object.assign(Object.create(memory) as MemoryServiceQuery, {
    setReplicas: ((service, namespace, replicas, options) => {
      log.push({ what: "set-replicas", service, replicas, at: Date.now() })
      return memory.setReplicas(service, namespace, replicas, options)
    }) satisfies MemoryServiceQuery["setReplicas"],
  })
}

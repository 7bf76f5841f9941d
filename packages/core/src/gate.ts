import { DEFAULT_NAMESPACE } from "./constants.js"
import { OverloadedError, ScaleTimeoutError } from "./errors.js"
import { createFunctionScaler, type FunctionScaler, type ScalingConfig } from "./function-scaler.js"
import { checkNamespace, checkServiceName, getServiceNameFromPath } from "./names.js"

/** Reads one request header, case-insensitively (`Headers`, or an adapter's own view). */
export interface HeaderReader {
  get(name: string): string | null | undefined
}

/** What the gate needs of a request, whatever the framework. */
export interface GateRequest {
  method: string
  /** Path and query, as sent: `/function/echo/hello?x=1`. */
  path: string
  headers: HeaderReader
}

export interface ServiceTarget {
  name: string
  /** Defaults to the gate's `defaultNamespace`. */
  namespace?: string
}

/** Maps a request to the service it needs, or undefined to let it pass untouched. */
export type ServiceResolver = (request: GateRequest) => ServiceTarget | undefined

export interface ScaleFromZeroOptions extends ScalingConfig {
  /** Namespace of a service whose name carries none. Default `openfaas-fn`. */
  defaultNamespace?: string
  /** Default: OpenFaaS paths, `/function/NAME[.NAMESPACE]/...` and `/async-function/...`. */
  resolve?: ServiceResolver
  /** Requests held at once across all services before new ones get 503. Default 10 000. */
  maxWaiting?: number
  /** Requests held at once for one service before new ones get 503. Default `maxWaiting`. */
  maxWaitingPerService?: number
  /** Seconds sent in `Retry-After` with 503 and 504 answers. Default 1. */
  retryAfter?: number
}

/** Forward the request; `coldStartMs` is set when it was held while the service woke. */
export interface GatePass {
  readonly kind: "pass"
  readonly coldStartMs?: number
}

/** Answer the request with this instead of forwarding it. */
export interface GateReply {
  readonly kind: "reply"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** The service has no ready replica: call `gate.wait` with the client's abort signal. */
export interface GateHold {
  readonly kind: "hold"
  readonly name: string
  readonly namespace: string
}

export type GateVerdict = GatePass | GateReply | GateHold

export interface Gate {
  readonly scaler: FunctionScaler
  /** Synchronous; allocates nothing for a request that passes warm. */
  admit(request: GateRequest): GateVerdict
  /** Holds until the service is ready, the timeout, or the signal; never rejects. */
  wait(hold: GateHold, signal: AbortSignal): Promise<GatePass | GateReply>
  /** Ends every wait and stops every wake. */
  close(): void
}

export const DEFAULT_MAX_WAITING = 10_000
/** nginx's status for a client that closed the connection; no client ever reads it. */
export const CLIENT_CLOSED_REQUEST = 499

const PASS: GatePass = Object.freeze({ kind: "pass" })

/** The `Server-Timing` header value for a request held `ms` while its service woke. */
export function coldStartServerTiming(ms: number): string {
  return `cold-start;dur=${ms}`
}

/** Reads OpenFaaS gateway paths: `/function/NAME[.NAMESPACE]/...` and `/async-function/...`. */
export const resolveOpenFaaSPath: ServiceResolver = (request) => {
  const fullName = getServiceNameFromPath(request.path)
  if (fullName === "") return undefined
  const dot = fullName.lastIndexOf(".")
  return dot === -1
    ? { name: fullName }
    : { name: fullName.slice(0, dot), namespace: fullName.slice(dot + 1) }
}

function reply(status: number, body: string, extraHeaders?: Record<string, string>): GateReply {
  return {
    kind: "reply",
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...extraHeaders,
    },
    body,
  }
}

function limit(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`)
  }
  return value
}

export function createGate(options: ScaleFromZeroOptions): Gate {
  const defaultNamespace = options.defaultNamespace ?? DEFAULT_NAMESPACE
  const resolve = options.resolve ?? resolveOpenFaaSPath
  const maxWaiting = limit(options.maxWaiting, DEFAULT_MAX_WAITING, "maxWaiting")
  const maxWaitingPerService = limit(
    options.maxWaitingPerService,
    maxWaiting,
    "maxWaitingPerService",
  )
  const retryAfter = { "retry-after": String(limit(options.retryAfter, 1, "retryAfter")) }
  const emit = options.onEvent ?? (() => {})
  const scaler = createFunctionScaler(options)
  const { cache } = scaler
  const expiry = scaler.config.cacheExpiry

  const notFound = (name: string, namespace: string, reason: string) =>
    reply(404, `error finding function ${name}.${namespace}: ${reason}`)

  const shed = (name: string, namespace: string, max: number, scope: "gateway" | "service") => {
    emit({ type: "shed", service: name, namespace, limit: max, scope })
    return reply(503, new OverloadedError(name, namespace, max, scope).message, retryAfter)
  }

  return {
    scaler,
    admit(request) {
      const target = resolve(request)
      if (target === undefined) return PASS
      const { name } = target
      const namespace = target.namespace ?? defaultNamespace
      // Only valid names are ever cached, so a cached service needs no validation.
      const meta = cache.meta(name, namespace)
      if (meta !== undefined && meta.serviceQueryResponse.availableReplicas > 0) {
        // Stale but ready: pass now and re-read in the background, so a ready service never waits.
        if (meta.expired(expiry)) scaler.refresh(name, namespace)
        return PASS
      }
      const invalid = checkServiceName(name) ?? checkNamespace(namespace)
      if (invalid !== undefined) return reply(400, invalid.message)
      if (scaler.isKnownMissing(name, namespace)) return notFound(name, namespace, "not found")
      return { kind: "hold", name, namespace }
    },
    async wait(hold, signal) {
      const { name, namespace } = hold
      if (scaler.totalWaiting >= maxWaiting) return shed(name, namespace, maxWaiting, "gateway")
      if (scaler.waiting(name, namespace) >= maxWaitingPerService) {
        return shed(name, namespace, maxWaitingPerService, "service")
      }
      const result = await scaler.scale(name, namespace, { signal })
      if (result.available)
        return result.coldStart ? { kind: "pass", coldStartMs: result.durationMs } : PASS
      if (!result.found) return notFound(name, namespace, "not found")
      if (signal.aborted) return reply(CLIENT_CLOSED_REQUEST, "client closed request")
      if (result.error instanceof ScaleTimeoutError)
        return reply(504, result.error.message, retryAfter)
      return reply(
        502,
        `error scaling function ${name}.${namespace}: ${result.error?.message ?? "unknown error"}`,
      )
    },
    close: () => scaler.close(),
  }
}

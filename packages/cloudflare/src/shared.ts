import {
  type QueryOptions,
  ServiceNotFoundError,
  type ServiceQuery,
  type ServiceQueryResponse,
  type SharedActivity,
} from "@scale-from-zero/core"
import {
  BackendError,
  deadline,
  ERROR_CODES,
  invalidOption,
  numberOption,
} from "@scale-from-zero/core/provider"
import { CALL_URL, type CoordinatorAnswer, type CoordinatorCall } from "./protocol.js"

/** The part of a Durable Object namespace binding (`env.SCALE_FROM_ZERO`) the clients use. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown
  get(id: never): { fetch(input: string, init?: RequestInit): Promise<Response> }
}

export interface DurableObjectSharedOptions {
  /** The binding of the coordinator class (`createCoordinator`): `env.SCALE_FROM_ZERO`. */
  namespace: DurableObjectNamespaceLike
  /** Starts every object's name: gateways with different prefixes share nothing. Default "". */
  objectNamePrefix?: string
  /** Longest wait for the object's answer to one call, in milliseconds. Default 10 000. */
  timeoutMs?: number
  /**
   * How long a service stays on the list of services to check for idleness after its last
   * record, in milliseconds (`createDurableObjectSharedActivity`). Keep it longer than your
   * longest idle time. Default 24 hours.
   */
  activityTtlMs?: number
}

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_ACTIVITY_TTL_MS = 24 * 60 * 60_000

/**
 * The object itself failed (no answer in time, or not the coordinator's JSON), as opposed to the
 * backend behind it. A BackendError (`code` ERR_BACKEND): a request meeting it gets 502.
 */
export class CoordinatorError extends BackendError {
  override readonly name = "CoordinatorError"
}

type Caller = (
  call: CoordinatorCall,
  signal?: AbortSignal,
) => Promise<CoordinatorAnswer & { ok: true }>

/** The object that lists the services recorded; apart from every service's (theirs are JSON arrays). */
const REGISTRY_OBJECT = "recorded-services"
const REGISTRY_OPS = new Set<CoordinatorCall["op"]>(["register", "unregister", "recorded"])

function createCaller(options: DurableObjectSharedOptions): Caller {
  const { namespace } = options
  if (
    typeof namespace !== "object" ||
    namespace === null ||
    typeof namespace.idFromName !== "function" ||
    typeof namespace.get !== "function"
  ) {
    throw invalidOption("namespace", "a Durable Object namespace binding", namespace)
  }
  const prefix = options.objectNamePrefix ?? ""
  if (typeof prefix !== "string") {
    throw invalidOption("objectNamePrefix", "a string", prefix)
  }
  const timeoutMs = numberOption("timeoutMs", options.timeoutMs, DEFAULT_TIMEOUT_MS, "positive")
  return async (call, signal) => {
    if (signal?.aborted) throw signal.reason
    // One object per service; JSON keeps ("a.b", "c") and ("a", "b.c") apart.
    const object =
      REGISTRY_OPS.has(call.op) || !("name" in call)
        ? REGISTRY_OBJECT
        : JSON.stringify([call.namespace, call.name])
    const stub = namespace.get(namespace.idFromName(`${prefix}${object}`) as never)
    const what = "name" in call ? `${call.op}(${call.name}.${call.namespace})` : call.op
    const bound = deadline(
      timeoutMs,
      signal,
      () => new CoordinatorError(`coordinator: ${what}: no answer within ${timeoutMs}ms`),
    )
    // A stub may not heed the signal: the wait ends with it all the same.
    let stopWaiting = () => {}
    const abandoned = new Promise<never>((_, reject) => {
      stopWaiting = () => bound.signal.removeEventListener("abort", onAbort)
      const onAbort = () => reject(bound.signal.reason)
      if (bound.signal.aborted) onAbort()
      else bound.signal.addEventListener("abort", onAbort, { once: true })
    })
    let answer: CoordinatorAnswer
    try {
      const answered = stub
        .fetch(CALL_URL, { method: "POST", body: JSON.stringify(call), signal: bound.signal })
        .then((response) => response.json() as Promise<CoordinatorAnswer>)
      answered.catch(() => {}) // settles after the race was lost: nobody reads it then
      answer = await Promise.race([answered, abandoned])
    } catch (error) {
      if (bound.signal.aborted) throw bound.signal.reason
      const reason = error instanceof Error ? error.message : String(error)
      throw new CoordinatorError(`coordinator: ${what}: ${reason}`, { cause: error })
    } finally {
      stopWaiting()
      bound.release()
    }
    if (answer.ok) return answer
    const { error } = answer
    if (error.code === ERROR_CODES.serviceNotFound && "name" in call) {
      throw new ServiceNotFoundError(call.name, call.namespace)
    }
    throw new BackendError(
      error.message,
      error.status === undefined ? {} : { status: error.status },
    )
  }
}

/**
 * Core's SharedActivity on the coordinating Durable Objects: every isolate records its activity
 * in the service's object, and one isolate in all wins the scale-down claim. Pass it as
 * `scaleToZero: { shared }`.
 */
export function createDurableObjectSharedActivity(
  options: DurableObjectSharedOptions,
): SharedActivity {
  const call = createCaller(options)
  const activityTtlMs = numberOption(
    "activityTtlMs",
    options.activityTtlMs,
    DEFAULT_ACTIVITY_TTL_MS,
    "positive",
  )
  return {
    async record(name, namespace, at) {
      await Promise.all([
        call({ op: "record", name, namespace, at }),
        call({ op: "register", name, namespace, at: Date.now() }),
      ])
    },
    async lastActive(name, namespace) {
      return (await call({ op: "lastActive", name, namespace })).at
    },
    async claimScaleDown(name, namespace, ttlMs) {
      const claimed = (await call({ op: "claimScaleDown", name, namespace, ttlMs })).claimed
      if (claimed !== true) return false
      // Left listed (the object failing here), it costs whoever adopts it one status read.
      await call({ op: "unregister", name, namespace }).catch(() => {})
      return true
    },
    async recordedServices() {
      const since = Date.now() - activityTtlMs
      return (await call({ op: "recorded", since })).services ?? []
    },
  }
}

/**
 * A ServiceQuery that asks the service's coordinating object, which alone asks the backend:
 * pass it as the gate's `serviceQuery` in every isolate, and N isolates waking a service cost
 * the backend what one does (one scale-up, one status read per the object's `statusCacheMs`).
 */
export function createDurableObjectServiceQuery(options: DurableObjectSharedOptions): ServiceQuery {
  const call = createCaller(options)
  return {
    async getReplicas(name, namespace, o?: QueryOptions): Promise<ServiceQueryResponse> {
      const { response } = await call({ op: "getReplicas", name, namespace }, o?.signal)
      if (response === undefined) {
        throw new CoordinatorError(`coordinator: getReplicas(${name}.${namespace}): no status`)
      }
      return response
    },
    async setReplicas(name, namespace, count, o?: QueryOptions) {
      await call({ op: "setReplicas", name, namespace, count }, o?.signal)
    },
  }
}

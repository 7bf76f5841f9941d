import type { ServiceQuery, ServiceQueryResponse } from "@scale-from-zero/core"
import { invalidOption, numberOption } from "@scale-from-zero/core/provider"
import type { CarriedError, CoordinatorAnswer, CoordinatorCall } from "./protocol.js"

/** The part of a Durable Object's `state` (its `ctx`) the coordinator uses. */
export interface DurableObjectStateLike {
  readonly storage: {
    get<T>(key: string): Promise<T | undefined>
    put<T>(key: string, value: T): Promise<void>
    delete(key: string): Promise<boolean>
    list<T>(options: { prefix: string }): Promise<Map<string, T>>
  }
}

export interface CoordinatorOptions {
  /**
   * How long the object reuses a status read from the backend before reading it again: every
   * isolate waiting for the service polls the object, and the backend sees at most one read per
   * this time. Default 100 (core's `functionPollInterval`).
   */
  statusCacheMs?: number
}

/** The Durable Object class `createCoordinator` returns: export it from the Worker. */
export interface CoordinatorClass<Env> {
  new (state: DurableObjectStateLike, env: Env): { fetch(request: Request): Promise<Response> }
}

export const DEFAULT_STATUS_CACHE_MS = 100

const LAST_ACTIVE = "lastActive"
const CLAIM_UNTIL = "scaleDownClaimUntil"
/** The registry object's entries: RECORDED + JSON [namespace, name] → when last recorded. */
const RECORDED = "recorded:"

function carry(error: unknown): CarriedError {
  const { code, message, status } = (error ?? {}) as {
    code?: unknown
    message?: unknown
    status?: unknown
  }
  return {
    code: typeof code === "string" ? code : undefined,
    message: typeof message === "string" ? message : String(error),
    status: typeof status === "number" ? status : undefined,
  }
}

/**
 * The Durable Object class that coordinates the isolates of a Worker, one object per service:
 * it keeps the service's activity records and scale-down claim in its storage (they survive a
 * restart of the object), and it alone talks to the backend, through the ServiceQuery that
 * `serviceQueryFor(env)` builds: one status read per `statusCacheMs` however many isolates wait,
 * and one scale-up however many ask for it.
 */
export function createCoordinator<Env>(
  serviceQueryFor: (env: Env) => ServiceQuery,
  options: CoordinatorOptions = {},
): CoordinatorClass<Env> {
  if (typeof serviceQueryFor !== "function") {
    throw invalidOption(
      "serviceQueryFor",
      "a function from the Worker's env to a ServiceQuery",
      serviceQueryFor,
    )
  }
  const statusCacheMs = numberOption(
    "statusCacheMs",
    options.statusCacheMs,
    DEFAULT_STATUS_CACHE_MS,
    "non-negative",
  )
  return class ScaleFromZeroCoordinator {
    readonly #state: DurableObjectStateLike
    readonly #query: ServiceQuery
    /** The latest status, read or written, and when: in memory only (a restart reads afresh). */
    #status: { response: ServiceQueryResponse; at: number } | undefined
    #reading: Promise<ServiceQueryResponse> | undefined
    #scaling: { count: number; done: Promise<void> } | undefined

    constructor(state: DurableObjectStateLike, env: Env) {
      this.#state = state
      this.#query = serviceQueryFor(env)
    }

    async fetch(request: Request): Promise<Response> {
      let answer: CoordinatorAnswer
      try {
        answer = { ok: true, ...(await this.#handle((await request.json()) as CoordinatorCall)) }
      } catch (error) {
        answer = { ok: false, error: carry(error) }
      }
      return Response.json(answer)
    }

    async #handle(call: CoordinatorCall): Promise<Omit<CoordinatorAnswer & { ok: true }, "ok">> {
      const { storage } = this.#state
      switch (call.op) {
        case "record": {
          // Storage calls without an await between them run as one: no record is lost.
          const previous = (await storage.get<number>(LAST_ACTIVE)) ?? 0
          if (call.at > previous) await storage.put(LAST_ACTIVE, call.at)
          return {}
        }
        case "lastActive": {
          const at = await storage.get<number>(LAST_ACTIVE)
          return at === undefined ? {} : { at }
        }
        case "claimScaleDown": {
          const until = (await storage.get<number>(CLAIM_UNTIL)) ?? 0
          // Read after the storage call: workerd's clock stands still between I/O.
          const now = Date.now()
          if (until > now) return { claimed: false }
          await storage.put(CLAIM_UNTIL, now + call.ttlMs)
          return { claimed: true }
        }
        case "getReplicas":
          return { response: await this.#read(call.name, call.namespace) }
        case "setReplicas":
          await this.#scale(call.name, call.namespace, call.count)
          return {}
        case "register":
          await storage.put(`${RECORDED}${JSON.stringify([call.namespace, call.name])}`, call.at)
          return {}
        case "unregister":
          await storage.delete(`${RECORDED}${JSON.stringify([call.namespace, call.name])}`)
          return {}
        case "recorded": {
          const services: Array<{ name: string; namespace: string }> = []
          for (const [key, at] of await storage.list<number>({ prefix: RECORDED })) {
            if (at < call.since) {
              await storage.delete(key) // gone quiet long ago: not worth a status read
              continue
            }
            const [namespace, name] = JSON.parse(key.slice(RECORDED.length)) as [string, string]
            services.push({ name, namespace })
          }
          return { services }
        }
      }
    }

    /** The cached status while fresh, else one backend read shared by every caller. */
    #read(name: string, namespace: string): Promise<ServiceQueryResponse> {
      const cached = this.#status
      if (cached !== undefined && Date.now() - cached.at < statusCacheMs) {
        return Promise.resolve(cached.response)
      }
      this.#reading ??= this.#query.getReplicas(name, namespace).then((response) => {
        this.#status = { response, at: Date.now() }
        return response
      })
      const reading = this.#reading
      return reading.finally(() => {
        if (this.#reading === reading) this.#reading = undefined
      })
    }

    /**
     * A scale-up the object already made (or is making) is not made again: the other isolates
     * that saw the service at zero wait for the same replicas. Scale-downs always go through.
     */
    async #scale(name: string, namespace: string, count: number): Promise<void> {
      if (count > 0 && this.#scaling !== undefined && this.#scaling.count >= count) {
        return this.#scaling.done
      }
      // Claimed before the first await, so a second caller meanwhile waits on this one.
      const scaling = { count, done: this.#scaleNow(name, namespace, count) }
      this.#scaling = scaling
      try {
        await scaling.done
      } finally {
        if (this.#scaling === scaling) this.#scaling = undefined
      }
    }

    async #scaleNow(name: string, namespace: string, count: number): Promise<void> {
      if (count > 0 && (await this.#read(name, namespace)).replicas >= count) return
      await this.#query.setReplicas(name, namespace, count)
      const status = this.#status
      // The backend took the new desired count; what is ready is unknown until read again.
      if (status !== undefined) {
        const availableReplicas = count === 0 ? 0 : status.response.availableReplicas
        this.#status = {
          response: { ...status.response, replicas: count, availableReplicas },
          at: status.at,
        }
      }
    }
  }
}

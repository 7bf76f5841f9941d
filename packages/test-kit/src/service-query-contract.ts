/**
 * The ServiceQuery contract: one Vitest suite that every provider runs (memory, process,
 * docker, kubernetes, openfaas), so they all behave alike under core's scaler.
 *
 * ## Harness
 *
 * ```ts
 * import { runServiceQueryContract } from "@scale-from-zero/test-kit/service-query-contract"
 *
 * runServiceQueryContract("docker", async () => ({
 *   query,                      // the ServiceQuery under test
 *   namespace: "default",       // where the suite's services live (must exist)
 *   readyWithinMs: 5_000,       // a scale-up turns ready within this on this backend
 *   async addService(name, namespace, { replicas, labels }) { ... },
 *   async cleanup() { ... },
 * }), { watch: true })
 * ```
 *
 * - `createSubject()` is called once, before the first test; `cleanup()` once, after the last.
 * - `addService(name, namespace, definition)` creates a service the backend knows, with
 *   `definition.replicas` (0 or 1) replicas (0: cold; see `options.scaleToZero`) and `definition.labels` as its labels, and resolves
 *   once the service is in that state (with 1, once that replica is ready). Names are
 *   lowercase DNS labels (`sfz-…`, at most 40 characters), unique in the run.
 * - Make-ready-after-scale: once `setReplicas(name, ns, n > 0)` resolves, the service must
 *   turn ready (availableReplicas ≥ 1) by itself within `readyWithinMs`. A backend that
 *   needs a nudge for that (podman runs no healthcheck timer) runs the nudge inside the
 *   subject, e.g. a ticker started by `createSubject` and stopped by `cleanup`.
 * - `options.watch` declares whether `query.watch` exists; the suite checks the declaration
 *   and, when true, the provider kit's semantics: watch pushes the ready state and stops when
 *   its signal aborts, each watcher hears each status once (repeats dropped), a watcher that
 *   throws does not stop the others, and every watcher of a service hears `onError` when its
 *   status can no longer be read (the service removed: `removeService` is then required).
 * - The last test closes the query (`close()`, where the query has one): `cleanup()` must not
 *   need it afterwards.
 *
 * What the provider must do (each a test below): report a service's desired and ready
 * replicas, its labels and the scale labels read as OpenFaaS does; throw core's
 * `ServiceNotFoundError` for an unknown service; scale from zero to ready and back to zero;
 * reject at once with the signal's reason when called with an aborted signal, changing
 * nothing; and carry core's `createFunctionScaler` through a cold start.
 */
import {
  createFunctionScaler,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  SCALING_FACTOR_LABEL,
  type ServiceQuery,
  type ServiceQueryResponse,
  ZERO_DURATION_LABEL,
  ZERO_SCALE_LABEL,
} from "@scale-from-zero/core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

export interface ContractServiceDefinition {
  /** Replicas the service starts with: 0 (scaled to zero) or 1 (one ready replica). */
  replicas: 0 | 1
  labels?: Record<string, string>
}

export interface ServiceQuerySubject {
  query: ServiceQuery
  /** The namespace the suite's services are created in. */
  namespace: string
  /** Milliseconds a scale-up may take on this backend until a replica is ready. */
  readyWithinMs: number
  addService(name: string, namespace: string, definition: ContractServiceDefinition): Promise<void>
  /**
   * Removes a service the way the backend's users would (its containers, workload or process
   * definition), so that the next status read fails with not-found. Required with `watch`.
   */
  removeService?(name: string, namespace: string): Promise<void>
  /**
   * Without `scaleToZero`: makes a cold service's replica turn available, as its starting pod
   * would by itself (the scaler then needs no scale-up call).
   */
  startColdService?(name: string, namespace: string): Promise<void>
  /** Removes what the subject created and releases its connections, timers and processes. */
  cleanup(): Promise<void>
}

export interface ServiceQueryContractOptions {
  /** The provider offers `watch`. Default false. */
  watch?: boolean
  /**
   * The backend can scale a service to 0 replicas. Default true. OpenFaaS Community Edition
   * (faas-netes) refuses a scale to 0: there a cold service is one at 1 replica with none
   * available (`addService` with `replicas: 0` creates that), and a scale to 0 must be refused
   * with a backend error (code ERR_BACKEND) that changes nothing.
   */
  scaleToZero?: boolean
}

/** How long a call with an already-aborted signal may take to reject. */
const PROMPT_MS = 500
const POLL_MS = 25

export function runServiceQueryContract(
  name: string,
  createSubject: () => Promise<ServiceQuerySubject>,
  options: ServiceQueryContractOptions = {},
): void {
  describe(`ServiceQuery contract: ${name}`, () => {
    let subject: ServiceQuerySubject | undefined
    const scaleToZero = options.scaleToZero ?? true
    /** The desired replicas of a cold service. */
    const coldReplicas = scaleToZero ? 0 : 1
    let serial = 0
    const run = Math.random().toString(36).slice(2, 8)

    /** The subject, for use inside a test (createSubject has run by then). */
    const given = (): ServiceQuerySubject => {
      if (subject === undefined) throw new Error("createSubject() did not complete")
      return subject
    }
    const uniqueName = (what: string) => `sfz-${what}-${run}-${++serial}`
    /** Room for a scale-up plus the polling around it. */
    const readyBound = () => given().readyWithinMs + 2_000

    const addService = async (what: string, definition: ContractServiceDefinition) => {
      const { namespace } = given()
      const service = uniqueName(what)
      await given().addService(service, namespace, definition)
      return { service, namespace }
    }

    /** Polls getReplicas until `done` holds, for at most `withinMs`. */
    const eventually = async (
      service: string,
      namespace: string,
      done: (status: ServiceQueryResponse) => boolean,
      withinMs: number,
    ): Promise<ServiceQueryResponse> => {
      const deadline = Date.now() + withinMs
      for (;;) {
        const status = await given().query.getReplicas(service, namespace)
        if (done(status)) return status
        if (Date.now() > deadline) {
          throw new Error(
            `${service}.${namespace} did not reach the expected state within ${withinMs}ms; last status ${JSON.stringify(status)}`,
          )
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      }
    }

    const abortedSignal = () => {
      const controller = new AbortController()
      controller.abort(new DOMException("the caller left", "AbortError"))
      return controller.signal
    }

    /** Rejects at once, with the signal's reason. */
    const expectPromptAbort = async (call: (signal: AbortSignal) => Promise<unknown>) => {
      const signal = abortedSignal()
      const start = performance.now()
      const outcome = await call(signal).then(
        () => ({ resolved: true, error: undefined as unknown }),
        (error: unknown) => ({ resolved: false, error }),
      )
      expect(outcome.resolved, "a call with an aborted signal must reject").toBe(false)
      expect(outcome.error).toBe(signal.reason)
      expect(performance.now() - start).toBeLessThan(PROMPT_MS)
    }

    beforeAll(async () => {
      subject = await createSubject()
    })

    afterAll(async () => {
      await subject?.cleanup()
    })

    it("reports a service scaled to zero, with its labels and the scale labels read as OpenFaaS does", async () => {
      const labels = {
        [MIN_SCALE_LABEL]: "1",
        [MAX_SCALE_LABEL]: "3",
        [SCALING_FACTOR_LABEL]: "20",
        [ZERO_SCALE_LABEL]: "true",
        [ZERO_DURATION_LABEL]: "30s",
      }
      const { service, namespace } = await addService("zero", { replicas: 0, labels })
      const status = await given().query.getReplicas(service, namespace)
      expect(status).toMatchObject({
        replicas: coldReplicas,
        availableReplicas: 0,
        minReplicas: 1,
        maxReplicas: 3,
        scalingFactor: 20,
      })
      expect(status.labels).toMatchObject({
        [ZERO_SCALE_LABEL]: "true",
        [ZERO_DURATION_LABEL]: "30s",
      })
    })

    it("reports the OpenFaaS defaults (min 1, max 5, factor 10) for a service without scale labels", async () => {
      const { service, namespace } = await addService("defaults", { replicas: 0 })
      expect(await given().query.getReplicas(service, namespace)).toMatchObject({
        minReplicas: 1,
        maxReplicas: 5,
        scalingFactor: 10,
      })
    })

    it("reports a running service's desired and ready replicas", async () => {
      const { service, namespace } = await addService("running", { replicas: 1 })
      const status = await eventually(
        service,
        namespace,
        (s) => s.availableReplicas >= 1,
        readyBound(),
      )
      expect(status.replicas).toBe(1)
      expect(status.availableReplicas).toBe(1)
    })

    it("throws a not-found error (code ERR_SERVICE_NOT_FOUND) for an unknown service, from both calls", async () => {
      const { query, namespace } = given()
      const missing = uniqueName("missing")
      const read = await query.getReplicas(missing, namespace).catch((error: unknown) => error)
      expect(read).toMatchObject({ code: "ERR_SERVICE_NOT_FOUND", service: missing, namespace })
      const write = await query.setReplicas(missing, namespace, 1).catch((error: unknown) => error)
      expect(write).toMatchObject({ code: "ERR_SERVICE_NOT_FOUND" })
    })

    it(`scales from zero to a ready replica, then ${scaleToZero ? "back to zero" : "is refused a scale to zero"}`, async () => {
      const { query } = given()
      const { service, namespace } = await addService("scale", { replicas: 0 })
      await query.setReplicas(service, namespace, 1)
      const up = await eventually(service, namespace, (s) => s.availableReplicas >= 1, readyBound())
      expect(up.replicas).toBe(1)

      if (!scaleToZero) {
        const refused = await query.setReplicas(service, namespace, 0).catch((e: unknown) => e)
        expect(refused).toMatchObject({ code: "ERR_BACKEND" })
        expect(await query.getReplicas(service, namespace)).toMatchObject({ replicas: 1 })
        return
      }
      await query.setReplicas(service, namespace, 0)
      const down = await eventually(
        service,
        namespace,
        (s) => s.replicas === 0 && s.availableReplicas === 0,
        readyBound(),
      )
      expect(down).toMatchObject({ replicas: 0, availableReplicas: 0 })
    })

    it("rejects at once with the signal's reason when the signal is already aborted, and changes nothing", async () => {
      const { query } = given()
      const { service, namespace } = await addService("abort", { replicas: 0 })
      await expectPromptAbort((signal) => query.getReplicas(service, namespace, { signal }))
      await expectPromptAbort((signal) => query.setReplicas(service, namespace, 1, { signal }))
      expect(await query.getReplicas(service, namespace)).toMatchObject({
        replicas: coldReplicas,
        availableReplicas: 0,
      })
    })

    it(`${options.watch ? "offers" : "does not offer"} watch, as declared`, () => {
      expect(typeof given().query.watch).toBe(options.watch ? "function" : "undefined")
    })

    if (options.watch) {
      it("watch pushes the ready state after a scale-up and stops when its signal aborts", async () => {
        const { query } = given()
        const watch = query.watch!.bind(query)
        const { service, namespace } = await addService("watch", { replicas: 0 })
        const seen: ServiceQueryResponse[] = []
        const subscription = new AbortController()
        const ready = new Promise<ServiceQueryResponse>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`watch pushed no ready state within ${readyBound()}ms`)),
            readyBound(),
          )
          watch(
            service,
            namespace,
            (status) => {
              seen.push(status)
              if (status.availableReplicas >= 1) {
                clearTimeout(timer)
                resolve(status)
              }
            },
            { signal: subscription.signal },
          )
        })
        await query.setReplicas(service, namespace, 1)
        expect((await ready).availableReplicas).toBeGreaterThanOrEqual(1)

        subscription.abort()
        const pushed = seen.length
        await query.setReplicas(service, namespace, 0)
        await eventually(service, namespace, (s) => s.availableReplicas === 0, readyBound())
        expect(seen.length, "watch went on after its signal aborted").toBe(pushed)
      })
    }

    if (options.watch) {
      /** Watches a service, recording what it hears, until the returned subscription aborts. */
      const record = (service: string, namespace: string, onChange?: () => void) => {
        const seen: ServiceQueryResponse[] = []
        const errors: Error[] = []
        const subscription = new AbortController()
        given().query.watch!(
          service,
          namespace,
          (status) => {
            seen.push(status)
            onChange?.()
          },
          { signal: subscription.signal, onError: (error) => errors.push(error) },
        )
        return { seen, errors, subscription }
      }

      /** Waits until `done` holds, checking every POLL_MS, failing after `withinMs`. */
      const until = async (done: () => boolean, what: string, withinMs: number) => {
        const deadline = Date.now() + withinMs
        while (!done()) {
          if (Date.now() > deadline) throw new Error(`${what} within ${withinMs}ms`)
          await new Promise((resolve) => setTimeout(resolve, POLL_MS))
        }
      }

      it("watch delivers each status once to each watcher: repeats are dropped", async () => {
        const { query } = given()
        const { service, namespace } = await addService("repeats", { replicas: 0 })
        const first = record(service, namespace)
        const second = record(service, namespace)
        try {
          await query.setReplicas(service, namespace, 1)
          const ready = () => first.seen.at(-1)?.availableReplicas === 1
          await until(
            () => ready() && second.seen.at(-1)?.availableReplicas === 1,
            "no ready push",
            readyBound(),
          )
          for (const { seen } of [first, second]) {
            const shapes = seen.map((s) => `${s.replicas}/${s.availableReplicas}`)
            for (let i = 1; i < shapes.length; i++) {
              expect(shapes[i], `a repeated status was pushed: ${shapes.join(" ")}`).not.toBe(
                shapes[i - 1],
              )
            }
          }
        } finally {
          first.subscription.abort()
          second.subscription.abort()
        }
      })

      it("watch keeps serving the other watchers when one of them throws", async () => {
        const { query } = given()
        const { service, namespace } = await addService("throws", { replicas: 0 })
        const thrower = record(service, namespace, () => {
          throw new Error("a broken watcher")
        })
        const healthy = record(service, namespace)
        try {
          await query.setReplicas(service, namespace, 1)
          await until(
            () => healthy.seen.some((s) => s.availableReplicas >= 1),
            "the healthy watcher heard no ready state",
            readyBound(),
          )
          expect(thrower.seen.length).toBeGreaterThan(0)
          expect(healthy.errors).toEqual([])
        } finally {
          thrower.subscription.abort()
          healthy.subscription.abort()
        }
      })

      it("watch tells every watcher through onError when the service's status can no longer be read", async () => {
        const { removeService } = given()
        if (removeService === undefined)
          throw new Error("a subject with watch must offer removeService")
        const { service, namespace } = await addService("vanish", { replicas: 1 })
        await eventually(service, namespace, (s) => s.availableReplicas >= 1, readyBound())
        const watchers = [record(service, namespace), record(service, namespace)]
        try {
          await removeService.call(given(), service, namespace)
          await until(
            () => watchers.every((w) => w.errors.length > 0),
            "not every watcher heard onError",
            readyBound(),
          )
          for (const { errors } of watchers) {
            expect(errors[0]).toMatchObject({ code: "ERR_SERVICE_NOT_FOUND" })
          }
        } finally {
          for (const { subscription } of watchers) subscription.abort()
        }
      })
    }

    it(`carries core's createFunctionScaler through a cold start with ${scaleToZero ? "one scale-up call" : "no scale-up call (the cold service already has its replica)"}`, async () => {
      const { query, readyWithinMs } = given()
      const { service, namespace } = await addService("scaler", { replicas: 0 })
      const calls = { setReplicas: 0 }
      // Counts scale-up calls without hiding any optional method of the provider.
      const counted: ServiceQuery = Object.create(query, {
        setReplicas: {
          value: (...args: Parameters<ServiceQuery["setReplicas"]>) => {
            calls.setReplicas++
            return query.setReplicas(...args)
          },
        },
      })
      const scaler = createFunctionScaler({
        serviceQuery: counted,
        functionPollInterval: 50,
        cacheExpiry: 50,
        timeout: readyWithinMs + 5_000,
      })
      try {
        const waiting = Promise.all(
          Array.from({ length: 5 }, () => scaler.scale(service, namespace)),
        )
        // Without scale to zero a cold service is already starting: its pod turns available by itself.
        if (!scaleToZero) await given().startColdService?.(service, namespace)
        const results = await waiting
        for (const result of results) {
          expect(result).toMatchObject({
            outcome: "ready",
            available: true,
            found: true,
            coldStart: true,
          })
          expect(result.error).toBeUndefined()
        }
        // One scale-up; none where the cold service already has its replica.
        expect(calls.setReplicas).toBe(scaleToZero ? 1 : 0)
        expect((await query.getReplicas(service, namespace)).availableReplicas).toBeGreaterThan(0)

        const warm = await scaler.scale(service, namespace)
        expect(warm).toMatchObject({ available: true, coldStart: false })

        const unknown = await scaler.scale(uniqueName("unknown"), namespace)
        expect(unknown).toMatchObject({ outcome: "not-found", found: false })
        expect(unknown.error).toMatchObject({ code: "ERR_SERVICE_NOT_FOUND" })
        expect(scaler.totalWaiting).toBe(0)
      } finally {
        scaler.close()
      }
    })

    it("close() ends every watch and resolves (last: the query is closed from here on)", async () => {
      const query = given().query as ServiceQuery & { close?(): unknown; activeWatches?: number }
      if (typeof query.close !== "function") return
      if (options.watch) {
        const { service, namespace } = await addService("close", { replicas: 0 })
        query.watch!(service, namespace, () => {}, { signal: new AbortController().signal })
        if (query.activeWatches !== undefined) expect(query.activeWatches).toBeGreaterThan(0)
      }
      await query.close()
      if (query.activeWatches !== undefined) expect(query.activeWatches).toBe(0)
    })
  })
}

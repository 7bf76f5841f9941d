/**
 * OpenTelemetry traces and metrics through `@opentelemetry/api` only: a no-op until the
 * application registers an SDK, and Web APIs only, so it runs on the edge. The gate and the
 * scaler call these hooks; the same figures go to every `ScalingObserver` passed in options.
 */
import {
  type Attributes,
  type Context,
  context,
  createNoopMeter,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api"
import { ERROR_CODES, hasErrorCode } from "./errors.js"
import type {
  BackendCall,
  BackendResult,
  HoldOutcome,
  ObservedHold,
  RequestVerdict,
  ScalingObserver,
} from "./observer.js"
import type { QueryOptions, ServiceQuery } from "./types.js"

/** The instrumentation scope of every span and instrument. */
export const TELEMETRY_SCOPE = "@scale-from-zero/core"

/** Span and metric attribute names. */
export const ATTR = {
  coldStart: "faas.coldstart",
  name: "faas.invoked_name",
  namespace: "scale_from_zero.namespace",
  outcome: "scale_from_zero.outcome",
  verdict: "scale_from_zero.verdict",
  replicas: "scale_from_zero.replicas",
  idleMs: "scale_from_zero.idle_ms",
  call: "scale_from_zero.backend.call",
  result: "scale_from_zero.backend.result",
} as const

/** A held request's span and figures, from the start of its wait to its end. */
export interface HoldTelemetry extends ObservedHold {
  /** Runs `fn` with the hold span active: the wake it starts is traced under it. */
  within<T>(fn: () => T): T
  end(
    outcome: HoldOutcome,
    verdict: RequestVerdict,
    durationMs: number,
    coldStart: boolean,
    known: boolean,
  ): void
}

export interface Telemetry {
  /** The warm path: one counter increment with a cached attribute set, no span. */
  passed(name: string, namespace: string): void
  /** A request answered without a hold (400, 404). */
  refused(verdict: RequestVerdict, name: string, namespace: string, known: boolean): void
  hold(name: string, namespace: string, known: boolean): HoldTelemetry
  /** The backend, with each getReplicas and setReplicas call traced and measured. */
  serviceQuery(query: ServiceQuery): ServiceQuery
  scaleUp<T>(name: string, namespace: string, replicas: number, run: () => Promise<T>): Promise<T>
  readiness<T>(name: string, namespace: string, run: () => Promise<T>): Promise<T>
  /** A scale-down, traced as a trace of its own; `idleMs` is undefined when one was asked for. */
  scaleDown(
    name: string,
    namespace: string,
    idleMs: number | undefined,
    run: () => Promise<boolean>,
  ): Promise<boolean>
}

const NOOP_METER = createNoopMeter()
const ERROR_OUTCOMES: ReadonlySet<HoldOutcome> = new Set(["timeout", "backend-error", "overloaded"])

interface Tally {
  readonly attributes: Attributes
  count: number
}

/**
 * Requests by verdict, counted in plain numbers and read by the SDK when it collects: the warm
 * path adds one to a number kept per service, instead of an SDK `add` that hashes its
 * attributes on every call. Tallies exist only for known services, plus one per verdict.
 */
class VerdictTallies {
  readonly #passes = new Map<string, Map<string, Tally>>()
  readonly #others = new Map<string, Tally>()

  pass(name: string, namespace: string): Tally {
    let names = this.#passes.get(namespace)
    if (names === undefined) {
      names = new Map()
      this.#passes.set(namespace, names)
    }
    let tally = names.get(name)
    if (tally === undefined) {
      tally = {
        attributes: { ...serviceAttributes(name, namespace, true), [ATTR.verdict]: "pass" },
        count: 0,
      }
      names.set(name, tally)
    }
    return tally
  }

  add(verdict: RequestVerdict, name: string, namespace: string, known: boolean) {
    if (verdict === "pass" && known) {
      this.pass(name, namespace).count++
      return
    }
    const key = known ? `${verdict} ${namespace} ${name}` : verdict
    let tally = this.#others.get(key)
    if (tally === undefined) {
      const attributes = { ...serviceAttributes(name, namespace, known), [ATTR.verdict]: verdict }
      tally = { attributes, count: 0 }
      this.#others.set(key, tally)
    }
    tally.count++
  }

  *[Symbol.iterator](): IterableIterator<Tally> {
    for (const names of this.#passes.values()) yield* names.values()
    yield* this.#others.values()
  }
}

const serviceAttributes = (name: string, namespace: string, known: boolean): Attributes =>
  known ? { [ATTR.name]: name, [ATTR.namespace]: namespace } : {}

function backendResult(error: unknown, signal: AbortSignal | undefined): BackendResult {
  if (hasErrorCode(error, ERROR_CODES.serviceNotFound)) return "not-found"
  return signal?.aborted ? "aborted" : "error"
}

function endWithError(span: Span, error: unknown) {
  if (error instanceof Error) span.recordException(error)
  span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) })
  span.end()
}

export function createTelemetry(observers: readonly ScalingObserver[] = []): Telemetry {
  const tracer = trace.getTracer(TELEMETRY_SCOPE)
  const meter = metrics.getMeter(TELEMETRY_SCOPE)
  // The metrics API has no proxy: a meter taken before the SDK is registered stays a no-op.
  const metering = !(meter instanceof NOOP_METER.constructor)
  const coldStarts = meter.createHistogram("scale_from_zero.cold_start.duration", {
    description: "Time a held request waited for its service, by outcome",
    unit: "s",
  })
  const held = meter.createUpDownCounter("scale_from_zero.requests.held", {
    description: "Requests held now while their service wakes",
  })
  const tallies = new VerdictTallies()
  if (metering) {
    meter
      .createObservableCounter("scale_from_zero.requests", {
        description: "Requests for a service, by what the gate did with them",
      })
      .addCallback((result) => {
        for (const tally of tallies) result.observe(tally.count, tally.attributes)
      })
  }
  const backendCalls = meter.createCounter("scale_from_zero.backend.calls", {
    description: "Calls to the backend, by call and result",
  })
  const backendDuration = meter.createHistogram("scale_from_zero.backend.duration", {
    description: "Duration of calls to the backend, by call and result",
    unit: "s",
  })
  const scaleUps = meter.createCounter("scale_from_zero.scale_ups", {
    description: "Scale-ups from zero asked of the backend",
  })
  const scaleDowns = meter.createCounter("scale_from_zero.scale_downs", {
    description: "Idle services scaled to zero",
  })
  // Those that hear of each request: the gate's own status tracker, always listed, does not.
  const requestObservers = observers.filter((observer) => observer.request !== undefined)

  const count = (verdict: RequestVerdict, name: string, namespace: string, known: boolean) => {
    if (metering) tallies.add(verdict, name, namespace, known)
    for (const observer of requestObservers) observer.request?.(verdict, name, namespace, known)
  }

  const traced = async <T>(
    spanName: string,
    attributes: Attributes,
    run: () => Promise<T>,
    parent: Context = context.active(),
  ): Promise<T> => {
    const span = tracer.startSpan(spanName, { attributes }, parent)
    try {
      const result = await context.with(trace.setSpan(parent, span), run)
      span.end()
      return result
    } catch (error) {
      endWithError(span, error)
      throw error
    }
  }

  const backendCall = async <T>(
    call: BackendCall,
    name: string,
    namespace: string,
    options: QueryOptions | undefined,
    run: () => Promise<T>,
  ): Promise<T> => {
    const start = performance.now()
    const span = tracer.startSpan(`scale-from-zero.${call}`, {
      kind: SpanKind.CLIENT,
      attributes: { [ATTR.name]: name, [ATTR.namespace]: namespace, [ATTR.call]: call },
    })
    const finish = (result: BackendResult) => {
      const seconds = (performance.now() - start) / 1000
      if (metering) {
        const attributes = { [ATTR.call]: call, [ATTR.result]: result }
        backendCalls.add(1, attributes)
        backendDuration.record(seconds, attributes)
      }
      for (const observer of observers) observer.backendCall?.(call, result, seconds * 1000)
      span.setAttribute(ATTR.result, result)
    }
    try {
      const value = await run()
      finish("ok")
      span.end()
      return value
    } catch (error) {
      const result = backendResult(error, options?.signal)
      finish(result)
      if (result === "error") endWithError(span, error)
      else span.end()
      throw error
    }
  }

  /** One held request's telemetry: its fields are all a hold keeps, its methods shared. */
  class Hold implements HoldTelemetry {
    constructor(
      readonly name: string,
      readonly namespace: string,
      readonly known: boolean,
      private readonly parent: Context,
      private readonly span: Span,
      private readonly heldAttributes: Attributes | undefined,
    ) {}

    within<T>(fn: () => T): T {
      return context.with(trace.setSpan(this.parent, this.span), fn)
    }

    end(
      outcome: HoldOutcome,
      verdict: RequestVerdict,
      durationMs: number,
      coldStart: boolean,
      knownNow: boolean,
    ): void {
      const { span, heldAttributes, name, namespace } = this
      span.setAttribute(ATTR.outcome, outcome)
      if (!coldStart) span.setAttribute(ATTR.coldStart, false)
      if (ERROR_OUTCOMES.has(outcome)) span.setStatus({ code: SpanStatusCode.ERROR })
      span.end()
      if (heldAttributes !== undefined) {
        held.add(-1, heldAttributes)
        coldStarts.record(durationMs / 1000, {
          ...serviceAttributes(name, namespace, knownNow),
          [ATTR.outcome]: outcome,
        })
      }
      for (const observer of observers)
        observer.holdEnded?.(this, outcome, durationMs, knownNow, coldStart)
      count(verdict, name, namespace, knownNow)
    }
  }

  return {
    passed:
      metering || requestObservers.length > 0
        ? (name, namespace) => {
            if (metering) tallies.pass(name, namespace).count++
            for (const observer of requestObservers) {
              observer.request?.("pass", name, namespace, true)
            }
          }
        : () => {},
    refused: count,
    hold(name, namespace, known) {
      const parent = context.active()
      const span = tracer.startSpan(
        "scale-from-zero.hold",
        {
          attributes: {
            [ATTR.coldStart]: true,
            [ATTR.name]: name,
            [ATTR.namespace]: namespace,
          },
        },
        parent,
      )
      // Kept for the hold's end: made only when there is a meter to give it to.
      const heldAttributes = metering ? serviceAttributes(name, namespace, known) : undefined
      if (heldAttributes !== undefined) held.add(1, heldAttributes)
      const hold = new Hold(name, namespace, known, parent, span, heldAttributes)
      for (const observer of observers) observer.holdStarted?.(hold)
      return hold
    },
    serviceQuery(query) {
      const instrumented: ServiceQuery = {
        getReplicas: (name, namespace, options) =>
          backendCall("getReplicas", name, namespace, options, () =>
            query.getReplicas(name, namespace, options),
          ),
        setReplicas: (name, namespace, count, options) =>
          backendCall("setReplicas", name, namespace, options, () =>
            query.setReplicas(name, namespace, count, options),
          ),
      }
      // The scaler tells a pushing backend by the presence of `watch`.
      if (query.watch !== undefined) instrumented.watch = query.watch.bind(query)
      return instrumented
    },
    scaleUp(name, namespace, replicas, run) {
      if (metering) scaleUps.add(1, serviceAttributes(name, namespace, true))
      for (const observer of observers) observer.scaledUp?.(name, namespace, replicas)
      return traced(
        "scale-from-zero.scale-up",
        { [ATTR.name]: name, [ATTR.namespace]: namespace, [ATTR.replicas]: replicas },
        run,
      )
    },
    readiness(name, namespace, run) {
      return traced(
        "scale-from-zero.readiness",
        { [ATTR.name]: name, [ATTR.namespace]: namespace },
        run,
      )
    },
    async scaleDown(name, namespace, idleMs, run) {
      for (const observer of observers) observer.scaleDownStarted?.(name, namespace)
      const attributes: Attributes = { [ATTR.name]: name, [ATTR.namespace]: namespace }
      if (idleMs !== undefined) attributes[ATTR.idleMs] = idleMs
      // Started by a timer, not a request: a trace of its own.
      const span = tracer.startSpan("scale-from-zero.scale-down", { root: true, attributes })
      let scaled = false
      try {
        scaled = await context.with(trace.setSpan(context.active(), span), run)
        span.setAttribute(ATTR.outcome, scaled ? "scaled-down" : "skipped")
        span.end()
      } catch (error) {
        endWithError(span, error)
        throw error
      } finally {
        if (scaled && metering) scaleDowns.add(1, serviceAttributes(name, namespace, true))
        for (const observer of observers) {
          observer.scaleDownEnded?.(name, namespace, scaled, idleMs)
        }
      }
      return scaled
    },
  }
}

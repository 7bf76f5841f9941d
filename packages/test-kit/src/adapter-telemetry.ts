// OpenTelemetry through a real framework: every adapter runs this suite with the SDK registered
// (an in-memory span exporter and metric reader) and each request inside a server span, as the
// user's HTTP instrumentation would open it.

import type { IncomingMessage, RequestListener, ServerResponse } from "node:http"
import { type Attributes, context, metrics, SpanKind, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base"
import supertest from "supertest"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { RunningApp } from "./adapter-contract.js"
import type { ContractScenario } from "./adapter-scenario.js"

export interface TelemetryHarness {
  /** Serves the contract app; `wrap` puts each request inside a server span. */
  start(
    scenario: ContractScenario,
    wrap: (listener: RequestListener) => RequestListener,
  ): Promise<RunningApp>
}

/** An in-memory reader: `collect()` reads the cumulative figures on demand. */
class InMemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override async onForceFlush() {}
  protected override async onShutdown() {}
}

/** Registers the OpenTelemetry SDK globally (before any gate is made: meters are taken then). */
export function installOpenTelemetry() {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  const reader = new InMemoryReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  trace.setGlobalTracerProvider(tracerProvider)
  metrics.setGlobalMeterProvider(meterProvider)
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    /** The data points of one instrument; none when it has recorded nothing. */
    async points<T = number>(name: string): Promise<DataPoint<T>[]> {
      const { resourceMetrics } = await reader.collect()
      const found = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((metric) => metric.descriptor.name === name)
      return (found?.dataPoints ?? []) as DataPoint<T>[]
    },
    async uninstall() {
      await tracerProvider.shutdown()
      await meterProvider.shutdown()
      contextManager.disable()
      trace.disable()
      metrics.disable()
      context.disable()
    },
  }
}

/** What an HTTP server instrumentation does: the request handled inside a SERVER span. */
export function withServerSpan(listener: RequestListener): RequestListener {
  const tracer = trace.getTracer("test-http-server")
  return (request: IncomingMessage, response: ServerResponse) => {
    tracer.startActiveSpan(
      `${request.method} ${request.url}`,
      { kind: SpanKind.SERVER },
      (span) => {
        response.once("close", () => span.end())
        listener(request, response)
      },
    )
  }
}

const sum = <T>(points: DataPoint<T>[], attributes: Attributes, value: (v: T) => number) =>
  points
    .filter((point) =>
      Object.entries(attributes).every(([key, want]) => point.attributes[key] === want),
    )
    .reduce((total, point) => total + value(point.value), 0)

const SERVICE = { "faas.invoked_name": "echo", "scale_from_zero.namespace": "openfaas-fn" }

export function runTelemetryContract(name: string, harness: TelemetryHarness): void {
  describe(`${name}: OpenTelemetry`, () => {
    let otel: ReturnType<typeof installOpenTelemetry>
    let running: RunningApp[] = []
    beforeAll(() => {
      otel = installOpenTelemetry()
    })
    afterAll(() => otel.uninstall())
    afterEach(async () => {
      await Promise.all(running.map((app) => app.close()))
      running = []
      otel.reset()
    })

    const start = async (scenario: ContractScenario) => {
      const app = await harness.start(scenario, withServerSpan)
      running.push(app)
      return { app, http: supertest(app.url) }
    }
    const spanNamed = (spans: ReadableSpan[], spanName: string) => {
      const found = spans.filter((span) => span.name === spanName)
      expect(found, `spans named ${spanName}`).toHaveLength(1)
      return found[0]!
    }
    const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 3000
      while (!check()) {
        if (Date.now() > deadline) throw new Error("timed out waiting for the spans")
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    const holdOutcomes = async (outcome: string, attributes: Attributes = {}) =>
      sum(
        await otel.points<Histogram>("scale_from_zero.cold_start.duration"),
        { "scale_from_zero.outcome": outcome, ...attributes },
        (v) => v.count,
      )
    const verdicts = async (verdict: string, attributes: Attributes = {}) =>
      sum(
        await otel.points("scale_from_zero.requests"),
        { "scale_from_zero.verdict": verdict, ...attributes },
        (v) => v,
      )
    const heldNow = async () =>
      sum(await otel.points("scale_from_zero.requests.held"), {}, (v) => v)

    it("traces a cold start: the hold under the server span, the scale-up and readiness wait under it", async () => {
      const { http } = await start({ services: { echo: { startupDelayMs: 100 } } })
      const before = await holdOutcomes("ready", SERVICE)
      await http.get("/function/echo/hi").expect(200)
      await until(() => otel.spans().some((span) => span.kind === SpanKind.SERVER))
      const spans = otel.spans()
      const server = spans.find((span) => span.kind === SpanKind.SERVER)!
      const hold = spanNamed(spans, "scale-from-zero.hold")
      expect(parentOf(hold)).toBe(server.spanContext().spanId)
      expect(hold.spanContext().traceId).toBe(server.spanContext().traceId)
      expect(hold.attributes).toMatchObject({
        "faas.coldstart": true,
        "faas.invoked_name": "echo",
        "scale_from_zero.namespace": "openfaas-fn",
        "scale_from_zero.outcome": "ready",
      })
      const scaleUp = spanNamed(spans, "scale-from-zero.scale-up")
      const readiness = spanNamed(spans, "scale-from-zero.readiness")
      expect(parentOf(scaleUp)).toBe(hold.spanContext().spanId)
      expect(parentOf(readiness)).toBe(hold.spanContext().spanId)
      expect(scaleUp.attributes["scale_from_zero.replicas"]).toBe(1)
      // The backend calls, each a span with its result: the scale-up call under the scale-up.
      const setReplicas = spanNamed(spans, "scale-from-zero.setReplicas")
      expect(parentOf(setReplicas)).toBe(scaleUp.spanContext().spanId)
      expect(setReplicas.attributes["scale_from_zero.backend.result"]).toBe("ok")
      const reads = spans.filter((span) => span.name === "scale-from-zero.getReplicas")
      expect(reads.length).toBeGreaterThan(0)
      expect(
        reads.every((span) => span.spanContext().traceId === server.spanContext().traceId),
      ).toBe(true)
      // The wait lasts at least the service's startup.
      const holdMs = hold.duration[0] * 1000 + hold.duration[1] / 1e6
      expect(holdMs).toBeGreaterThanOrEqual(90)

      expect(await holdOutcomes("ready", SERVICE)).toBe(before + 1)
      expect(await verdicts("held", SERVICE)).toBeGreaterThanOrEqual(1)
      expect(await heldNow()).toBe(0)
      expect(
        sum(await otel.points("scale_from_zero.scale_ups"), SERVICE, (v) => v),
      ).toBeGreaterThanOrEqual(1)
      expect(
        sum(
          await otel.points("scale_from_zero.backend.calls"),
          { "scale_from_zero.backend.call": "setReplicas", "scale_from_zero.backend.result": "ok" },
          (v) => v,
        ),
      ).toBeGreaterThanOrEqual(1)
    })

    it("a warm request makes no span of ours, and counts one pass", async () => {
      const { http } = await start({ services: { echo: { replicas: 1 } } })
      await http.get("/function/echo/first").expect(200) // reads the status: held briefly
      const passes = await verdicts("pass", SERVICE)
      otel.reset()
      await http.get("/function/echo/warm").expect(200)
      await until(() => otel.spans().length > 0)
      expect(otel.spans().map((span) => span.kind)).toEqual([SpanKind.SERVER])
      expect(await verdicts("pass", SERVICE)).toBe(passes + 1)
    })

    it("records a 404: outcome not-found, and no series for the unknown name", async () => {
      const { http } = await start({ services: {} })
      const before = await holdOutcomes("not-found")
      await http.get("/function/nobody-knows-me/x").expect(404)
      await until(() => otel.spans().some((span) => span.name === "scale-from-zero.hold"))
      const hold = spanNamed(otel.spans(), "scale-from-zero.hold")
      expect(hold.attributes["scale_from_zero.outcome"]).toBe("not-found")
      expect(await holdOutcomes("not-found")).toBe(before + 1)
      const points = await otel.points("scale_from_zero.requests")
      expect(points.some((p) => p.attributes["faas.invoked_name"] === "nobody-knows-me")).toBe(
        false,
      )
      expect(await verdicts("404")).toBeGreaterThanOrEqual(1)
      const getReplicas = otel.spans().find((span) => span.name === "scale-from-zero.getReplicas")
      expect(getReplicas?.attributes["scale_from_zero.backend.result"]).toBe("not-found")
    })

    it("records a 502: outcome backend-error, the hold and the backend call as errors", async () => {
      const { http } = await start({ services: { echo: {} }, failWith: "backend down" })
      const before = await holdOutcomes("backend-error")
      await http.get("/function/echo/x").expect(502)
      await until(() => otel.spans().some((span) => span.name === "scale-from-zero.hold"))
      const hold = spanNamed(otel.spans(), "scale-from-zero.hold")
      expect(hold.attributes["scale_from_zero.outcome"]).toBe("backend-error")
      expect(hold.status.code).toBe(2) // ERROR
      const call = otel.spans().find((span) => span.name === "scale-from-zero.getReplicas")!
      expect(call.attributes["scale_from_zero.backend.result"]).toBe("error")
      expect(call.events.some((event) => event.name === "exception")).toBe(true)
      expect(await holdOutcomes("backend-error")).toBe(before + 1)
      expect(await verdicts("502")).toBeGreaterThanOrEqual(1)
    })

    it("records a 504: outcome timeout", async () => {
      const { http } = await start({
        services: { echo: { startupDelayMs: 10_000 } },
        gate: { timeout: 200 },
      })
      const before = await holdOutcomes("timeout", SERVICE)
      await http.get("/function/echo/x").expect(504)
      await until(() => otel.spans().some((span) => span.name === "scale-from-zero.hold"))
      const hold = spanNamed(otel.spans(), "scale-from-zero.hold")
      expect(hold.attributes["scale_from_zero.outcome"]).toBe("timeout")
      expect(await holdOutcomes("timeout", SERVICE)).toBe(before + 1)
      expect(await verdicts("504", SERVICE)).toBeGreaterThanOrEqual(1)
    })

    it("records a 503: outcome overloaded", async () => {
      const { http } = await start({ services: { echo: {} }, gate: { maxWaiting: 0 } })
      const before = await holdOutcomes("overloaded")
      await http.get("/function/echo/x").expect(503)
      await until(() => otel.spans().some((span) => span.name === "scale-from-zero.hold"))
      const hold = spanNamed(otel.spans(), "scale-from-zero.hold")
      expect(hold.attributes["scale_from_zero.outcome"]).toBe("overloaded")
      expect(await holdOutcomes("overloaded")).toBe(before + 1)
      expect(await verdicts("503")).toBeGreaterThanOrEqual(1)
    })

    it("records a 499: outcome aborted when the client leaves", async () => {
      const { app } = await start({ services: { echo: { startupDelayMs: 10_000 } } })
      const before = await holdOutcomes("aborted")
      const controller = new AbortController()
      const request = fetch(`${app.url}/function/echo/x`, { signal: controller.signal }).catch(
        () => "aborted",
      )
      const deadline = Date.now() + 3000
      while ((await app.stats()).totalWaiting === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect(await heldNow()).toBe(1)
      controller.abort()
      expect(await request).toBe("aborted")
      await until(() => otel.spans().some((span) => span.name === "scale-from-zero.hold"))
      const hold = spanNamed(otel.spans(), "scale-from-zero.hold")
      expect(hold.attributes["scale_from_zero.outcome"]).toBe("aborted")
      expect(await holdOutcomes("aborted")).toBe(before + 1)
      expect(await verdicts("499")).toBeGreaterThanOrEqual(1)
      expect(await heldNow()).toBe(0)
    })
  })
}

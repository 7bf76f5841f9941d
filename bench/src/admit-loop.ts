// One process of the OpenTelemetry warm-path benchmark: `admit-loop.ts none|sdk ITERATIONS`.
// `gate.admit` of a request for a cached, ready service in a tight loop; prints ns per call.
// With `sdk`, the OpenTelemetry SDK (tracer and meter providers, async-hooks context) is
// registered before the gate is made, as an application instrumented with it does.
import { context, metrics, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base"
import { createGate, type GateRequest } from "@scale-from-zero/core"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override async onForceFlush() {}
  protected override async onShutdown() {}
}

const [variant = "none", iterationsArg = "2000000"] = process.argv.slice(2)
const iterations = Number(iterationsArg)
const exporter = new InMemorySpanExporter()
const reader = new Reader()
if (variant === "sdk") {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  )
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
}

const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
// A long cache expiry: every request in the loop is warm, none re-reads the status.
const gate = createGate({ serviceQuery, cacheExpiry: 3_600_000 })
const request: GateRequest = {
  method: "GET",
  path: "/function/echo/hello",
  headers: { get: () => undefined },
}
const first = gate.admit(request)
if (first.kind !== "hold") throw new Error("expected the first request to be held")
await gate.wait(first, new AbortController().signal)

const loop = (n: number) => {
  let passes = 0
  for (let i = 0; i < n; i++) if (gate.admit(request).kind === "pass") passes++
  if (passes !== n) throw new Error(`only ${passes} of ${n} passed warm`)
}
loop(Math.min(iterations, 200_000)) // warm-up: optimised code before the clock starts
const heapBefore = process.memoryUsage().heapUsed
const start = process.hrtime.bigint()
loop(iterations)
const nanos = Number(process.hrtime.bigint() - start)
const heapAfter = process.memoryUsage().heapUsed

// Proof the SDK saw the warm requests (one counter increment each) and made no span for them.
let passCount = 0
if (variant === "sdk") {
  const { resourceMetrics } = await reader.collect()
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== "scale_from_zero.requests") continue
      for (const point of metric.dataPoints) {
        if (point.attributes["scale_from_zero.verdict"] === "pass")
          passCount += point.value as number
      }
    }
  }
}
const spansAfterWarmUp = exporter.getFinishedSpans().filter((s) => s.name.endsWith(".hold")).length
process.stdout.write(
  `${JSON.stringify({
    variant,
    iterations,
    nsPerAdmit: nanos / iterations,
    heapGrowthBytes: heapAfter - heapBefore,
    passCount,
    holdSpans: spansAfterWarmUp,
  })}\n`,
)
gate.close()
serviceQuery.close()

// One process of the warm-path benchmarks: `admit-loop.ts none|sdk ITERATIONS [PATH]`.
// The admit of a request for a cached, ready service in a tight loop; prints ns per call and
// the heap's growth (run with a new space larger than the loop allocates: no scavenge inside).
// With `sdk`, the OpenTelemetry SDK (tracer and meter providers, async-hooks context) is
// registered before the gate is made, as an application instrumented with it does.
// PATH is what each request goes through: `gate` (gate.admit of one GateRequest), `node` and
// `web` (the bridges' admitRequest, as Express and Koa, and Hono, call it, with a real
// IncomingMessage or Request), `node-view` and `web-view` (a toGateRequest view per request,
// as the adapters did before). ENTRY is the cached status: `polled` (a backend without push,
// whose entry expires: the check reads the clock) or `watched` (kept right by the backend's
// pushes: it never expires). With HEAP_INTERVAL, the loop runs once more under a sampling heap
// profile (one sample per HEAP_INTERVAL bytes on average) that names what allocated.

import { IncomingMessage } from "node:http"
import { Socket } from "node:net"
import { context, metrics, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base"
import { createGate, type GateRequest, type GateVerdict } from "@scale-from-zero/core"
import * as node from "@scale-from-zero/core/node"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import * as web from "@scale-from-zero/core/web"
import { type HeapSample, startHeapSampling } from "./heap-profile.js"

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override async onForceFlush() {}
  protected override async onShutdown() {}
}

const [variant = "none", iterationsArg = "2000000", path = "gate", entry = "polled", heapArg] =
  process.argv.slice(2)
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

if (entry !== "polled" && entry !== "watched") throw new Error(`unknown entry ${entry}`)
const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
// Polled: a long cache expiry, so every request in the loop is warm and none re-reads the
// status. Watched: 1 ms and no stale grace, so an entry the pushes did not keep would hold.
const gate = createGate(
  entry === "polled"
    ? { serviceQuery, cacheExpiry: 3_600_000, watchCached: false }
    : { serviceQuery, cacheExpiry: 1, maxStaleMs: 0 },
)
const request: GateRequest = {
  method: "GET",
  path: "/function/echo/hello",
  headers: { get: () => undefined },
}
const first = gate.admit(request)
if (first.kind !== "hold") throw new Error("expected the first request to be held")
await gate.wait(first, new AbortController().signal)
if (entry === "watched") {
  // A status pushed by the backend's watch: from now on the entry is kept right by pushes.
  await serviceQuery.setReplicas("echo", "openfaas-fn", 1)
  await new Promise((resolve) => setTimeout(resolve, 10))
}

const incoming = new IncomingMessage(new Socket())
incoming.method = "GET"
incoming.url = request.path
incoming.headers = { host: "localhost", accept: "*/*" }
const fetchRequest = new Request(`http://localhost${request.path}`)
const admitOnce: Record<string, () => GateVerdict> = {
  gate: () => gate.admit(request),
  node: () => node.admitRequest(gate, incoming),
  "node-view": () => gate.admit(node.toGateRequest(incoming)),
  web: () => web.admitRequest(gate, fetchRequest, request.path),
  "web-view": () => gate.admit(web.toGateRequest(fetchRequest)),
}
const admit = admitOnce[path]
if (admit === undefined) throw new Error(`unknown path ${path}`)

const loop = (n: number) => {
  let passes = 0
  for (let i = 0; i < n; i++) if (admit().kind === "pass") passes++
  if (passes !== n) throw new Error(`only ${passes} of ${n} passed warm`)
}
// Warm-up: optimised code before the clock starts. TurboFan compiles on another thread: on a busy
// machine its job for `admit` could still be running after one round (Maglev's code, which
// allocates, would then be measured), so a pause lets it finish, and a second round runs it.
loop(Math.min(iterations, 200_000))
await new Promise((resolve) => setTimeout(resolve, 100))
loop(Math.min(iterations, 200_000))
globalThis.gc?.() // an empty new space: the loop's allocations all show in heapUsed
const heapBefore = process.memoryUsage().heapUsed
const start = process.hrtime.bigint()
loop(iterations)
const nanos = Number(process.hrtime.bigint() - start)
const heapAfter = process.memoryUsage().heapUsed
let heapProfile: HeapSample | undefined
if (heapArg !== undefined) {
  const stop = startHeapSampling(Number(heapArg))
  loop(iterations)
  heapProfile = stop()
}

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
    path,
    iterations,
    nsPerAdmit: nanos / iterations,
    heapGrowthBytes: heapAfter - heapBefore,
    heapBytesPerAdmit: (heapAfter - heapBefore) / iterations,
    ...(heapProfile && {
      entry,
      sampledBytesPerAdmit: heapProfile.totalBytes / iterations,
      oursSampledBytesPerAdmit: heapProfile.oursBytes / iterations,
      oursAllocating: heapProfile.ours,
    }),
    passCount,
    holdSpans: spansAfterWarmUp,
  })}\n`,
)
gate.close()
serviceQuery.close()

import { writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import {
  CONTENDERS,
  measureBackendLoad,
  measureReleaseLatency,
  measureRepeatedColdStarts,
  REPEAT_CONTENDERS,
} from "./cold.js"
import { measureReleaseBurst, measureWholeGateway } from "./gateway.js"
import { measureHeldHttp } from "./held-http.js"
import { type InstancesColdStart, measureInstancesColdStart } from "./instances.js"
import { measureOnKubeApiServer, measureOnSimulator } from "./kubernetes.js"
import { measureHeldMemory } from "./memory.js"
import { renderMarkdown } from "./report.js"
import { measureTelemetryWarmPath } from "./telemetry.js"
import { measureWarmOverhead } from "./warm.js"
import { measureWarmAllocation } from "./warm-alloc.js"

const quick = process.argv.includes("--quick")
const log = (line: string) => process.stdout.write(`${line}\n`)

const settings = quick
  ? {
      trials: 20,
      heldCounts: [1, 100, 1000],
      repeatServices: 10,
      repeatStarts: 3,
      readyAfterMs: 1000,
      memoryHeld: 2000,
      heldHttp: 1000,
      heldHttpRounds: 1,
      kubernetesTrials: 5,
      warmSeconds: 1,
      // A smoke run: its servers are measured before TurboFan has optimised them all.
      warmUpSeconds: 1,
      warmRounds: 1,
      profileRounds: 1,
      admitIterations: 200_000,
      admitRounds: 1,
      gatewaySeconds: 1,
      gatewayRounds: 1,
      burstRounds: 1,
    }
  : {
      trials: 200,
      heldCounts: [1, 100, 10_000],
      repeatServices: 40,
      repeatStarts: 6,
      readyAfterMs: 3000,
      memoryHeld: 10_000,
      heldHttp: 2000,
      heldHttpRounds: 3,
      kubernetesTrials: 50,
      warmSeconds: 2,
      warmUpSeconds: 5,
      warmRounds: 11,
      profileRounds: 3,
      admitIterations: 2_000_000,
      admitRounds: 7,
      gatewaySeconds: 4,
      gatewayRounds: 6,
      burstRounds: 5,
    }

log(`scale-from-zero benchmarks (${quick ? "quick" : "full"} mode)`)

log("cold release latency …")
const releaseLatency = []
for (const contender of CONTENDERS) {
  releaseLatency.push(await measureReleaseLatency(contender, settings.trials))
  log(`  ${JSON.stringify(releaseLatency.at(-1))}`)
}

log("repeated cold starts: the poll schedule …")
const repeatedColdStarts = []
for (const jitter of [0.1, 0.2]) {
  for (const contender of REPEAT_CONTENDERS) {
    repeatedColdStarts.push(
      await measureRepeatedColdStarts(
        contender,
        settings.repeatServices,
        settings.repeatStarts,
        jitter,
      ),
    )
    log(`  ${JSON.stringify(repeatedColdStarts.at(-1))}`)
  }
}

log("backend load while requests are held …")
const backendLoad = []
for (const held of settings.heldCounts) {
  for (const contender of CONTENDERS.slice(0, 3)) {
    backendLoad.push(await measureBackendLoad(contender, held, settings.readyAfterMs))
    log(`  ${JSON.stringify(backendLoad.at(-1))}`)
  }
}

log("backend calls during a cold start, 1, 3 and 10 gateway instances …")
const instancesColdStart: InstancesColdStart[] = []
for (const instances of [1, 3, 10]) {
  for (const shared of [false, true]) {
    const result = await measureInstancesColdStart(instances, shared, 300, settings.readyAfterMs)
    if (result === undefined) log("  shared wakes skipped: no Redis answers")
    else instancesColdStart.push(result)
    log(`  ${JSON.stringify(result)}`)
  }
}

log("Kubernetes cold start: scale-up → watch push → release …")
const kubernetesColdStart = [await measureOnSimulator(settings.kubernetesTrials)]
log(`  ${JSON.stringify(kubernetesColdStart.at(-1))}`)
const onServer = await measureOnKubeApiServer(settings.kubernetesTrials, log)
if (onServer !== undefined) {
  kubernetesColdStart.push(onServer)
  log(`  ${JSON.stringify(onServer)}`)
}

log("memory per held request …")
const heldMemory = await measureHeldMemory(settings.memoryHeld)
log(`  ${JSON.stringify(heldMemory)}`)
log("memory per request held through real HTTP, beside a bare app …")
const heldHttp = await measureHeldHttp(
  settings.heldHttp,
  settings.heldHttpRounds,
  undefined,
  (row) => log(`  ${JSON.stringify(row)}`),
)

log("warm overhead per adapter (autocannon in a separate process) …")
const warmOverhead = await measureWarmOverhead({
  seconds: settings.warmSeconds,
  warmUpSeconds: settings.warmUpSeconds,
  rounds: settings.warmRounds,
  profileRounds: settings.profileRounds,
  log,
})

log("warm path allocation: heap profiles …")
const warmAllocation = await measureWarmAllocation({
  iterations: 100_000,
  seconds: settings.warmSeconds + 1,
  warmUpSeconds: settings.warmUpSeconds,
  intervalBytes: 128,
  log,
})

log("warm path without and with the OpenTelemetry SDK …")
const telemetryWarmPath = await measureTelemetryWarmPath(
  settings.admitIterations,
  settings.admitRounds,
)
log(`  ${JSON.stringify(telemetryWarmPath)}`)

log("whole gateway: the Koa OpenFaaS example, warm, and a release burst …")
const wholeGateway = await measureWholeGateway({
  seconds: settings.gatewaySeconds,
  rounds: settings.gatewayRounds,
  connections: 20,
})
for (const row of wholeGateway) log(`  ${JSON.stringify(row)}`)
const releaseBurst = await measureReleaseBurst(1000, settings.burstRounds)
for (const row of releaseBurst) log(`  ${JSON.stringify(row)}`)

const results = {
  mode: quick ? "quick" : "full",
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  releaseLatency,
  repeatedColdStarts,
  backendLoad,
  instancesColdStart,
  kubernetesColdStart,
  heldMemory,
  heldHttp,
  warmOverhead,
  warmAllocation,
  telemetryWarmPath,
  wholeGateway,
  releaseBurst,
}
const resultsFile = fileURLToPath(
  new URL(quick ? "../results.quick.json" : "../results.json", import.meta.url),
)
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`)
log(`wrote ${resultsFile}`)
if (!quick) {
  const markdownFile = fileURLToPath(new URL("../../BENCHMARKS.md", import.meta.url))
  writeFileSync(markdownFile, renderMarkdown(results))
  log(`wrote ${markdownFile}`)
}

import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { median, round } from "./stats.js"

export interface TelemetryWarmPath {
  iterations: number
  rounds: number
  /** Median ns per warm `gate.admit`, without an SDK and with one registered. */
  nsWithoutSdk: number
  nsWithSdk: number
  /** Lowest and highest ns per admit over the rounds: the noise. */
  rangeWithoutSdk: [number, number]
  rangeWithSdk: [number, number]
  /** Warm requests the SDK counted in the last round with it (the loop plus its warm-up). */
  passesCounted: number
  /** Hold spans the SDK recorded in that round: only the first, cold request's. */
  holdSpans: number
}

interface LoopResult {
  nsPerAdmit: number
  passCount: number
  holdSpans: number
}

function runLoop(variant: "none" | "sdk", iterations: number): Promise<LoopResult> {
  const script = fileURLToPath(new URL("./admit-loop.ts", import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", script, variant, String(iterations)],
      { stdio: ["ignore", "pipe", "inherit"], cwd: fileURLToPath(new URL("..", import.meta.url)) },
    )
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once("exit", (code) =>
      code === 0 ? resolve(JSON.parse(output) as LoopResult) : reject(new Error(`exit ${code}`)),
    )
  })
}

/** The warm path without and with the OpenTelemetry SDK, each in its own process, interleaved. */
export async function measureTelemetryWarmPath(
  iterations: number,
  rounds: number,
): Promise<TelemetryWarmPath> {
  const without: number[] = []
  const withSdk: number[] = []
  let last: LoopResult = { nsPerAdmit: 0, passCount: 0, holdSpans: 0 }
  for (let i = 0; i < rounds; i++) {
    without.push((await runLoop("none", iterations)).nsPerAdmit)
    last = await runLoop("sdk", iterations)
    withSdk.push(last.nsPerAdmit)
  }
  const range = (values: number[]): [number, number] => [
    round(Math.min(...values)),
    round(Math.max(...values)),
  ]
  return {
    iterations,
    rounds,
    nsWithoutSdk: round(median(without)),
    nsWithSdk: round(median(withSdk)),
    rangeWithoutSdk: range(without),
    rangeWithSdk: range(withSdk),
    passesCounted: last.passCount,
    holdSpans: last.holdSpans,
  }
}

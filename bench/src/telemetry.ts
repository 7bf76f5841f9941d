import { here, runForJson } from "./child.js"
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
  return runForJson<LoopResult>(
    [
      "--conditions=source",
      "--import",
      "tsx",
      here("./admit-loop.ts"),
      variant,
      String(iterations),
    ],
    `admit-loop ${variant}`,
  )
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

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
}

const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g

/**
 * Milliseconds in a Go duration string (`"15m"`, `"1m30s"`, `"500ms"`), the format of
 * OpenFaaS's `com.openfaas.scale.zero-duration`; undefined when it is not one.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim()
  if (!DURATION.test(trimmed)) return undefined
  let total = 0
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    total += Number(amount) * (UNIT_MS[unit ?? ""] ?? Number.NaN)
  }
  return Number.isFinite(total) ? total : undefined
}

import {
  DEFAULT_MAX_REPLICAS,
  DEFAULT_MIN_REPLICAS,
  DEFAULT_SCALING_FACTOR,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  SCALING_FACTOR_LABEL,
} from "./constants.js"

export interface ScaleLimits {
  minReplicas: number
  maxReplicas: number
  scalingFactor: number
}

// Go's strconv.Atoi: an optional sign and decimal digits, nothing else (no spaces, no "1.5").
const INTEGER = /^[+-]?\d+$/

/** A non-negative integer label, or `fallback` when the label is missing or unparsable. */
function replicaLabel(raw: string | undefined, fallback: number): number {
  if (raw === undefined || !INTEGER.test(raw)) return fallback
  const value = Number(raw)
  // Upstream casts a negative count to uint64 (a huge number); a fallback is what was meant.
  return Number.isSafeInteger(value) && value >= 0 ? value : fallback
}

/**
 * Reads `com.openfaas.scale.min`, `.max` and `.factor` as the OpenFaaS gateway does:
 * a missing or unparsable value falls back to the default (1, 5, 10).
 * @throws RangeError when the factor parses but lies outside 1..100, as upstream.
 */
export function readScaleLabels(labels: Readonly<Record<string, string>> | undefined): ScaleLimits {
  const factorLabel = labels?.[SCALING_FACTOR_LABEL]
  const scalingFactor =
    factorLabel !== undefined && INTEGER.test(factorLabel)
      ? Number(factorLabel)
      : DEFAULT_SCALING_FACTOR
  if (!(scalingFactor >= 1 && scalingFactor <= 100)) {
    throw new RangeError(
      `bad scaling factor: label ${SCALING_FACTOR_LABEL}=${JSON.stringify(factorLabel)} is not in the range 1..100`,
    )
  }
  return {
    minReplicas: replicaLabel(labels?.[MIN_SCALE_LABEL], DEFAULT_MIN_REPLICAS),
    maxReplicas: replicaLabel(labels?.[MAX_SCALE_LABEL], DEFAULT_MAX_REPLICAS),
    scalingFactor,
  }
}

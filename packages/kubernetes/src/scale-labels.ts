import {
  DEFAULT_MAX_REPLICAS,
  DEFAULT_MIN_REPLICAS,
  DEFAULT_SCALING_FACTOR,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  SCALING_FACTOR_LABEL,
} from "@scale-from-zero/core"

export interface ScaleBounds {
  minReplicas: number
  maxReplicas: number
  scalingFactor: number
}

function integerLabel(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined
  return Number.parseInt(value, 10)
}

/** The OpenFaaS scale labels, with upstream's rules: min and max must be positive, the factor 0–100. */
export function readScaleLabels(labels: Record<string, string>): ScaleBounds {
  const min = integerLabel(labels[MIN_SCALE_LABEL])
  const max = integerLabel(labels[MAX_SCALE_LABEL])
  const factor = integerLabel(labels[SCALING_FACTOR_LABEL])
  return {
    minReplicas: min !== undefined && min > 0 ? min : DEFAULT_MIN_REPLICAS,
    maxReplicas: max !== undefined && max > 0 ? max : DEFAULT_MAX_REPLICAS,
    scalingFactor: factor !== undefined && factor <= 100 ? factor : DEFAULT_SCALING_FACTOR,
  }
}

import {
  readScaleLabels,
  type ScaleLimits,
  type ServiceQueryResponse,
} from "@scale-from-zero/core/provider"

/** Why an answer is not a faas-provider `FunctionStatus`. */
export class MalformedStatus extends Error {
  override readonly name = "MalformedStatus"
}

/**
 * Maps the JSON text of a faas-provider `FunctionStatus` to a ServiceQueryResponse.
 * @throws MalformedStatus when it is not one; RangeError for a scale factor outside 1..100.
 */
export function parseFunctionStatus(text: string): ServiceQueryResponse {
  let status: unknown
  try {
    status = JSON.parse(text)
  } catch (error) {
    throw new MalformedStatus(`the answer is not JSON (${(error as Error).message})`)
  }
  if (!isRecord(status)) throw new MalformedStatus("the answer is not a JSON object")
  // Go's omitempty leaves a zero count out: a missing key is 0.
  const replicas = count(status, "replicas")
  const availableReplicas = count(status, "availableReplicas")
  const labels = stringMap(status, "labels")
  const annotations = stringMap(status, "annotations")
  const limits: ScaleLimits = readScaleLabels(labels)
  return {
    replicas,
    availableReplicas,
    ...limits,
    ...(labels && { labels }),
    ...(annotations && { annotations }),
  }
}

function count(status: Record<string, unknown>, key: string): number {
  const value = status[key]
  if (value === undefined || value === null) return 0
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new MalformedStatus(`${key} is not a non-negative integer`)
  }
  return value
}

function stringMap(
  status: Record<string, unknown>,
  key: string,
): Record<string, string> | undefined {
  const value = status[key]
  if (value === undefined || value === null) return undefined
  if (!isRecord(value) || Object.values(value).some((entry) => typeof entry !== "string")) {
    throw new MalformedStatus(`${key} is not a map of strings`)
  }
  return { ...(value as Record<string, string>) }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

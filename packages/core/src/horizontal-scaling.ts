import { DEFAULT_MAX_REPLICAS } from "./constants.js"

/** The body of an OpenFaaS scale request (`POST /system/scale-function/{name}`). */
export interface ScaleServiceRequest {
  serviceName: string
  replicas: number
  namespace?: string
}

export type HorizontalScalingResult =
  | { ok: true; request: ScaleServiceRequest; body: string }
  | { ok: false; status: 400 | 405 | 413; message: string }

/** Largest scale request body read, in bytes; a scale request is a few dozen. */
export const MAX_SCALE_REQUEST_BYTES = 64 * 1024

/**
 * Upstream's MakeHorizontalScalingHandler as a pure function: POST only, a JSON
 * `{ serviceName, replicas, namespace? }` body, replicas clamped to
 * 1..DEFAULT_MAX_REPLICAS. Returns the normalised request and the body to forward.
 */
export function normalizeScaleRequest(method: string, body: string): HorizontalScalingResult {
  if (method.toUpperCase() !== "POST") {
    return { ok: false, status: 405, message: "Method not allowed" }
  }
  if (body.length > MAX_SCALE_REQUEST_BYTES) {
    return { ok: false, status: 413, message: "Scale request body too large" }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { ok: false, status: 400, message: "Error parsing request body: not JSON" }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { ok: false, status: 400, message: "Error parsing request body: expected a JSON object" }
  }
  const { serviceName, replicas = 0, namespace } = parsed as Record<string, unknown>
  if (typeof serviceName !== "string" || serviceName.length === 0) {
    return {
      ok: false,
      status: 400,
      message: "Error parsing request body: serviceName is required",
    }
  }
  if (typeof replicas !== "number" || !Number.isInteger(replicas)) {
    return {
      ok: false,
      status: 400,
      message: "Error parsing request body: replicas must be an integer",
    }
  }
  if (namespace !== undefined && typeof namespace !== "string") {
    return {
      ok: false,
      status: 400,
      message: "Error parsing request body: namespace must be a string",
    }
  }
  const request: ScaleServiceRequest = {
    serviceName,
    replicas: Math.min(Math.max(replicas, 1), DEFAULT_MAX_REPLICAS),
    ...(namespace !== undefined && namespace !== "" && { namespace }),
  }
  return { ok: true, request, body: JSON.stringify(request) }
}

import { DEFAULT_MAX_REPLICAS } from "./constants.js"
import type { GateReply } from "./gate.js"

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

/** The refusal for a scale request body past MAX_SCALE_REQUEST_BYTES. */
export const SCALE_REQUEST_TOO_LARGE = Object.freeze({
  ok: false,
  status: 413,
  message: "Scale request body too large",
} as const)

/**
 * Reads and checks a scale request from a Web `Request`: 405 for another method (the body left
 * unread), 413 past MAX_SCALE_REQUEST_BYTES (reading stops there), 400 for a bad body or one the
 * client abandoned mid-way. Never rejects.
 */
export async function readScaleRequest(request: Request): Promise<HorizontalScalingResult> {
  const { method } = request
  if (method.toUpperCase() !== "POST" || request.body === null) {
    return normalizeScaleRequest(method, "")
  }
  if (Number(request.headers.get("content-length")) > MAX_SCALE_REQUEST_BYTES) {
    return SCALE_REQUEST_TOO_LARGE
  }
  const reader = request.body.getReader()
  const decoder = new TextDecoder()
  let text = ""
  let size = 0
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength
      if (size > MAX_SCALE_REQUEST_BYTES) {
        // Stop reading but leave the body be: cancelling it may drop the connection before the 413.
        reader.releaseLock()
        return SCALE_REQUEST_TOO_LARGE
      }
      text += decoder.decode(chunk.value, { stream: true })
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return { ok: false, status: 400, message: `Error reading request body: ${reason}` }
  }
  return normalizeScaleRequest(method, text + decoder.decode())
}

/** The answer to a refused scale request; `connection: close` drops a body left unread. */
export function scaleRefusalReply(refusal: { status: number; message: string }): GateReply {
  return {
    kind: "reply",
    status: refusal.status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      ...(refusal.status === 405 && { allow: "POST" }),
      ...(refusal.status === 413 && { connection: "close" }),
    },
    body: `${refusal.message}\n`,
  }
}

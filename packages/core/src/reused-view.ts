import type { Gate, GateRequest, GateVerdict } from "./gate.js"

/** A bridge's view of a request that can be pointed at another one. */
export interface ReusableView<R> extends GateRequest {
  point(request: R, path: string): void
}

/**
 * `gate.admit` through one view pointed at each request in turn: `gate.admit` is synchronous
 * and keeps no request past its call, so the warm path makes no view. A callback admitting
 * another request meanwhile gets a view of its own (`own`); `idle` is what the view holds
 * between admits, so no request outlives its call.
 */
export function admitThroughReusedView<R>(
  view: ReusableView<R>,
  idle: R,
  own: (request: R, path: string) => GateRequest,
): (gate: Gate, request: R, path: string) => GateVerdict {
  let admitting = false
  return (gate, request, path) => {
    if (admitting) return gate.admit(own(request, path))
    admitting = true
    view.point(request, path)
    try {
      return gate.admit(view)
    } finally {
      view.point(idle, "/")
      admitting = false
    }
  }
}

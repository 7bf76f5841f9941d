import type { Gate, GatePass, GateRequest, GateVerdict } from "./gate.js"

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

/** The gate's own warm admit for the bridges (see `admitWarm`); not part of `Gate`. */
export const ADMIT_WARM = Symbol("scale-from-zero.admitWarm")

export interface WarmAdmit {
  /** Undefined where the gate's admit reads more of a request than its path (hints, a resolver…). */
  readonly [ADMIT_WARM]: ((source: string, offset: number) => GatePass | undefined) | undefined
}

/**
 * `gate.admit`'s pass for a request whose path and query are `source` from `offset` on (a URL's,
 * read in place), when its path names a recently resolved service that passes warm and the gate
 * reads nothing else of the request; undefined when the request must be admitted in full. No
 * view is made or pointed at the request, no string sliced.
 */
export function admitWarm(gate: Gate, source: string, offset: number): GatePass | undefined {
  const admit = (gate as Gate & Partial<WarmAdmit>)[ADMIT_WARM]
  return admit === undefined ? undefined : admit(source, offset)
}

import type { ScaleOutcome } from "./function-scaler.js"

/**
 * What the gate finally did with a request for a service: `pass` (forwarded without a wait),
 * `held` (forwarded once its service was ready), or the status it was refused with.
 */
export type RequestVerdict = "pass" | "held" | "400" | "404" | "499" | "502" | "503" | "504"

/**
 * How a held request's wait ended: a scale outcome, `overloaded` (shed: too many held
 * already), or `waiting-page` (a browser was shown the waiting page while its service wakes).
 */
export type HoldOutcome = ScaleOutcome | "overloaded" | "waiting-page"

/** A backend call the scaler makes. */
export type BackendCall = "getReplicas" | "setReplicas"

/** How a backend call ended. */
export type BackendResult = "ok" | "not-found" | "aborted" | "error"

/** A held request, from the start of its wait to its end. */
export interface ObservedHold {
  readonly name: string
  readonly namespace: string
  /** The backend had reported this service when the wait began (else: no per-service series). */
  readonly known: boolean
}

/**
 * Hears of every figure the gate and its scaler record, synchronously, as they happen: the
 * interface a metrics library implements (`@scale-from-zero/prometheus` does). `known` says the
 * backend has reported the service: label series by service only then, so requests for random
 * unknown names add no series. Every method is optional; none may throw.
 */
export interface ScalingObserver {
  /** Once per request for a service, with what became of it. Allocation-free for `pass`. */
  request?(verdict: RequestVerdict, name: string, namespace: string, known: boolean): void
  holdStarted?(hold: ObservedHold): void
  /**
   * `durationMs` is the wait; `known` as of its end; `coldStart` false when the service
   * turned out ready (the wait was only a read of its status).
   */
  holdEnded?(
    hold: ObservedHold,
    outcome: HoldOutcome,
    durationMs: number,
    known: boolean,
    coldStart: boolean,
  ): void
  backendCall?(call: BackendCall, result: BackendResult, durationMs: number): void
  scaledUp?(name: string, namespace: string, replicas: number): void
  scaleDownStarted?(name: string, namespace: string): void
  /**
   * `scaled` is false when the scale-down did not happen (a wake began first) or failed;
   * `idleMs` is undefined for a scale-down asked for (the status page's sleep button).
   */
  scaleDownEnded?(
    name: string,
    namespace: string,
    scaled: boolean,
    idleMs: number | undefined,
  ): void
}

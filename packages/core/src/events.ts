/** What the scaler and the gateway report through `onEvent`, as it happens. */
export type ScalingEvent =
  | { type: "scale-up"; service: string; namespace: string; replicas: number }
  | { type: "ready"; service: string; namespace: string; durationMs: number; waiting: number }
  | { type: "timeout"; service: string; namespace: string; timeoutMs: number }
  | {
      type: "error"
      /** Empty, with `namespace`, for an error about no one service (a shared store's list). */
      service: string
      namespace: string
      error: Error
    }
  | {
      type: "shed"
      service: string
      namespace: string
      limit: number
      scope: "gateway" | "service"
    }
  | { type: "scale-down"; service: string; namespace: string; idleMs: number }
  | {
      /** `scaleOut` stepped a ready service's replicas up (`scale-out`) or down (`scale-in`). */
      type: "scale-out" | "scale-in"
      service: string
      namespace: string
      /** Replicas before the step. */
      from: number
      replicas: number
      /** Requests held and in flight the step was decided on (summed over instances when shared). */
      concurrency: number
    }

export type ScalingEventListener = (event: ScalingEvent) => void

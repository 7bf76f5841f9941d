/** What the scaler and the gateway report through `onEvent`, as it happens. */
export type ScalingEvent =
  | { type: "scale-up"; service: string; namespace: string; replicas: number }
  | { type: "ready"; service: string; namespace: string; durationMs: number; waiting: number }
  | { type: "timeout"; service: string; namespace: string; timeoutMs: number }
  | { type: "error"; service: string; namespace: string; error: Error }
  | {
      type: "shed"
      service: string
      namespace: string
      limit: number
      scope: "gateway" | "service"
    }
  | { type: "scale-down"; service: string; namespace: string; idleMs: number }

export type ScalingEventListener = (event: ScalingEvent) => void

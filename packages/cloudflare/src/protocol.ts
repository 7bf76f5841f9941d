// What the isolates and the coordinating Durable Object say to each other: one JSON POST per call.
import type { ServiceQueryResponse } from "@scale-from-zero/core"

export type CoordinatorCall =
  | { op: "record"; name: string; namespace: string; at: number }
  | { op: "lastActive"; name: string; namespace: string }
  | { op: "claimScaleDown"; name: string; namespace: string; ttlMs: number }
  | { op: "getReplicas"; name: string; namespace: string }
  | { op: "setReplicas"; name: string; namespace: string; count: number }
  // To the registry object: the services recorded, less those claimed for a scale-down since.
  | { op: "register"; name: string; namespace: string; at: number }
  | { op: "unregister"; name: string; namespace: string }
  | { op: "recorded"; since: number }

/** A failure carried back to the isolate: core recognises errors by `code`. */
export interface CarriedError {
  code: string | undefined
  message: string
  status: number | undefined
}

export type CoordinatorAnswer =
  | {
      ok: true
      at?: number
      claimed?: boolean
      response?: ServiceQueryResponse
      services?: Array<{ name: string; namespace: string }>
    }
  | { ok: false; error: CarriedError }

/** The URL of every call: a Durable Object stub needs an absolute one; its host is never used. */
export const CALL_URL = "https://scale-from-zero.coordinator/call"

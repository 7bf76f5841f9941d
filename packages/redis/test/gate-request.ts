import type { Gate, GatePass, GateRequest } from "@scale-from-zero/core"
import { expect } from "vitest"

/** A JSON client's request for service `svc`, as the redis tests' gates see it. */
const request: GateRequest = {
  method: "GET",
  path: "/function/svc",
  headers: new Headers({ accept: "application/json" }),
}

/** What an adapter does: admit, and wait when told to hold; the request must pass. */
export async function pass(gate: Gate): Promise<GatePass> {
  const verdict = gate.admit(request)
  const admitted =
    verdict.kind === "hold" ? await gate.wait(verdict, new AbortController().signal) : verdict
  expect(admitted.kind).toBe("pass")
  return admitted as GatePass
}

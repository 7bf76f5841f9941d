import { describe, expect, it } from "vitest"
import type { GateRequest } from "./gate.js"
import { resolveOpenFaaSPath } from "./names.js"

const at = (path: string): GateRequest => ({
  method: "GET",
  path,
  headers: { get: () => undefined },
})

describe("resolveOpenFaaSPath", () => {
  it("tells apart services whose names begin alike, however often each was asked for", () => {
    const paths: Record<string, unknown> = {
      "/function/echo/x": { name: "echo" },
      "/function/echo.ns/x": { name: "echo", namespace: "ns" },
      "/function/echo.nsx?y=1": { name: "echo", namespace: "nsx" },
      "/function/echoes#top": { name: "echoes" },
      "/async-function/echo": { name: "echo" },
      "/function/": undefined,
      "/functions/echo": undefined,
      "/echo": undefined,
    }
    for (let round = 0; round < 3; round++) {
      for (const [path, target] of Object.entries(paths)) {
        expect(resolveOpenFaaSPath(at(path)), path).toEqual(target)
      }
    }
  })

  it("gives the same frozen target for a service asked for again", () => {
    const first = resolveOpenFaaSPath(at("/function/again/a"))
    expect(resolveOpenFaaSPath(at("/function/again?b"))).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
  })
})

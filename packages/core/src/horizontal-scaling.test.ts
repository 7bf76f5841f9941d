import { describe, expect, it } from "vitest"
import { DEFAULT_MAX_REPLICAS, normalizeScaleRequest } from "./index.js"

describe("normalizeScaleRequest", () => {
  it("allows POST only", () => {
    expect(normalizeScaleRequest("GET", "{}")).toMatchObject({ ok: false, status: 405 })
    expect(normalizeScaleRequest("PUT", "{}")).toMatchObject({ ok: false, status: 405 })
  })

  it.each([
    ["", "not JSON"],
    ["{", "not JSON"],
    ["[]", "expected a JSON object"],
    ["null", "expected a JSON object"],
    ['{"replicas":1}', "serviceName is required"],
    ['{"serviceName":"a","replicas":"2"}', "replicas must be an integer"],
    ['{"serviceName":"a","replicas":1.5}', "replicas must be an integer"],
    ['{"serviceName":"a","namespace":7}', "namespace must be a string"],
  ])("answers 400 for %j", (body, reason) => {
    const result = normalizeScaleRequest("POST", body)
    expect(result).toMatchObject({ ok: false, status: 400 })
    expect(!result.ok && result.message).toContain(reason)
  })

  it.each([
    [0, 1],
    [-3, 1],
    [1, 1],
    [3, 3],
    [DEFAULT_MAX_REPLICAS, DEFAULT_MAX_REPLICAS],
    [500, DEFAULT_MAX_REPLICAS],
  ])("clamps replicas %i to %i", (asked, clamped) => {
    const result = normalizeScaleRequest(
      "POST",
      JSON.stringify({ serviceName: "a", replicas: asked }),
    )
    expect(result.ok && result.request.replicas).toBe(clamped)
  })

  it("hands on the normalised body, keeping the namespace", () => {
    const result = normalizeScaleRequest(
      "post",
      '{"serviceName":"figlet","replicas":9,"namespace":"staging","extra":true}',
    )
    expect(result).toEqual({
      ok: true,
      request: { serviceName: "figlet", replicas: 5, namespace: "staging" },
      body: '{"serviceName":"figlet","replicas":5,"namespace":"staging"}',
    })
  })

  it("treats missing replicas as zero, clamped to one, as Go's zero value would be", () => {
    const result = normalizeScaleRequest("POST", '{"serviceName":"a"}')
    expect(result.ok && result.request).toEqual({ serviceName: "a", replicas: 1 })
  })

  it("refuses an oversized body with 413", () => {
    const huge = JSON.stringify({ serviceName: "a", pad: "x".repeat(70_000) })
    expect(normalizeScaleRequest("POST", huge)).toMatchObject({ ok: false, status: 413 })
  })
})

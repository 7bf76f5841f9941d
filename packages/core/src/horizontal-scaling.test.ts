import { describe, expect, it } from "vitest"
import { DEFAULT_MAX_REPLICAS } from "./constants.js"
import {
  normalizeScaleRequest,
  readScaleRequest,
  SCALE_REQUEST_TOO_LARGE,
  scaleRefusalReply,
} from "./horizontal-scaling.js"

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

describe("readScaleRequest (Web Request)", () => {
  const post = (body: BodyInit, headers?: HeadersInit) =>
    new Request("http://gateway/system/scale-function/a", {
      method: "POST",
      body,
      ...(headers && { headers }),
    })

  it("reads, checks and normalises a scale request", async () => {
    const result = await readScaleRequest(post('{"serviceName":"a","replicas":50}'))
    expect(result).toEqual({
      ok: true,
      request: { serviceName: "a", replicas: DEFAULT_MAX_REPLICAS },
      body: `{"serviceName":"a","replicas":${DEFAULT_MAX_REPLICAS}}`,
    })
  })

  it("answers 405 without reading, and 413 past the bound even without a content-length", async () => {
    expect(await readScaleRequest(new Request("http://gateway/x"))).toMatchObject({ status: 405 })
    const chunks = new ReadableStream({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("x".repeat(16 * 1024)))
      },
    })
    const streamed = new Request("http://gateway/x", {
      method: "POST",
      body: chunks,
      duplex: "half",
    } as RequestInit)
    expect(await readScaleRequest(streamed)).toBe(SCALE_REQUEST_TOO_LARGE)
    expect(await readScaleRequest(post("{}", { "content-length": "999999" }))).toBe(
      SCALE_REQUEST_TOO_LARGE,
    )
  })

  it("turns a refusal into a reply a client understands", () => {
    expect(scaleRefusalReply({ status: 405, message: "Method not allowed" })).toMatchObject({
      status: 405,
      headers: { allow: "POST" },
      body: "Method not allowed\n",
    })
    expect(scaleRefusalReply(SCALE_REQUEST_TOO_LARGE).headers).toMatchObject({
      connection: "close",
    })
  })
})

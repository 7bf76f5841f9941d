import { describe, expect, it } from "vitest"
import { parseDuration } from "./duration.js"

describe("parseDuration", () => {
  it.each([
    ["15m", 900_000],
    ["30s", 30_000],
    ["500ms", 500],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1.5s", 1500],
    [" 2s ", 2000],
  ])("%j is %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(["", "15", "m", "15 minutes", "-1s", "1d"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined()
  })
})

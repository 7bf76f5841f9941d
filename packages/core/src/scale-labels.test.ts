import { describe, expect, it } from "vitest"
import { MAX_SCALE_LABEL, MIN_SCALE_LABEL, SCALING_FACTOR_LABEL } from "./constants.js"
import { readScaleLabels } from "./scale-labels.js"

describe("readScaleLabels", () => {
  it("gives upstream's defaults without labels", () => {
    expect(readScaleLabels(undefined)).toEqual({
      minReplicas: 1,
      maxReplicas: 5,
      scalingFactor: 10,
    })
    expect(readScaleLabels({})).toEqual({ minReplicas: 1, maxReplicas: 5, scalingFactor: 10 })
  })

  it("reads integer labels as strconv.Atoi does", () => {
    expect(
      readScaleLabels({
        [MIN_SCALE_LABEL]: "2",
        [MAX_SCALE_LABEL]: "+12",
        [SCALING_FACTOR_LABEL]: "007",
      }),
    ).toEqual({ minReplicas: 2, maxReplicas: 12, scalingFactor: 7 })
    expect(readScaleLabels({ [MIN_SCALE_LABEL]: "0" }).minReplicas).toBe(0)
  })

  it.each(["", "abc", " 2", "2 ", "1.5", "1e3", "0x10", "-1", "99999999999999999999"])(
    "falls back to the default for an unusable replica count %j",
    (raw) => {
      expect(readScaleLabels({ [MIN_SCALE_LABEL]: raw, [MAX_SCALE_LABEL]: raw })).toEqual({
        minReplicas: 1,
        maxReplicas: 5,
        scalingFactor: 10,
      })
    },
  )

  it("falls back to factor 10 when the factor does not parse", () => {
    expect(readScaleLabels({ [SCALING_FACTOR_LABEL]: "ten" }).scalingFactor).toBe(10)
  })

  it.each(["1", "100"])("accepts the factor %s at the edge of 1..100", (raw) => {
    expect(readScaleLabels({ [SCALING_FACTOR_LABEL]: raw }).scalingFactor).toBe(Number(raw))
  })

  it.each(["0", "101", "-5"])("refuses the factor %s outside 1..100", (raw) => {
    expect(() => readScaleLabels({ [SCALING_FACTOR_LABEL]: raw })).toThrow(
      new RangeError(
        `bad scaling factor: label ${SCALING_FACTOR_LABEL}=${JSON.stringify(raw)} is not in the range 1..100`,
      ),
    )
  })
})

/**
 * One way to check options for every factory in the family, so a JavaScript caller's mistake
 * is reported alike everywhere: the option, what was expected, what was given.
 */

export type NumberRule = "positive" | "non-negative" | "positive integer" | "non-negative integer"

/** Says what a value is, for an error message: `"abc"`, `-1`, `an object`, `undefined`. */
export function describeValue(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value)
  }
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return "an array"
  return typeof value === "function" ? "a function" : "an object"
}

/** A TypeError (code `ERR_INVALID_OPTION`) naming the option, what it must be and what it was. */
export function invalidOption(option: string, expected: string, received: unknown): TypeError {
  return Object.assign(
    new TypeError(`option ${option} must be ${expected}, got ${describeValue(received)}`),
    { code: "ERR_INVALID_OPTION" },
  )
}

/**
 * A factory's options object: `options` itself, `{}` when it is undefined (all options have
 * defaults); throws `invalidOption` for anything else (null, a string, an array).
 */
export function optionsObject<T extends object>(options: T | undefined, example: string): T {
  if (options === undefined) return {} as T
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("options", `an object such as ${example}`, options)
  }
  return options
}

const satisfies: Record<NumberRule, (value: number) => boolean> = {
  positive: (value) => value > 0,
  "non-negative": (value) => value >= 0,
  "positive integer": (value) => Number.isInteger(value) && value > 0,
  "non-negative integer": (value) => Number.isInteger(value) && value >= 0,
}

/**
 * `value` when it is a finite number that follows `rule`, `fallback` when it is undefined;
 * throws `invalidOption` otherwise. Name the option with its unit: `pollIntervalMs`.
 */
export function numberOption(
  option: string,
  value: unknown,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isFinite(value) || !satisfies[rule](value)) {
    throw invalidOption(option, `a ${rule} number`, value)
  }
  return value
}

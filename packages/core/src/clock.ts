/**
 * The monotonic clock a cached status ages on, as the Go gateway's FunctionCache (whose time
 * comparisons use Go's monotonic reading): a wall-clock step neither expires nor revives an entry.
 *
 * On Node an instant is a bigint of nanoseconds from `process.hrtime.bigint()`: a function small
 * enough that TurboFan inlines it whatever its inlining budget (a fast API call that writes a
 * BigUint64Array), and whose BigInt TurboFan subtracts and compares as a 64-bit integer, so the
 * warm check allocates nothing once optimised. `performance.now()` cannot on Node 20 and 22: its
 * C++ callback returns a new heap number (16 bytes a call), whatever the caller does with it.
 * Elsewhere an instant is milliseconds from `performance.now()`: JavaScriptCore (Bun) makes a
 * heap cell of every BigInt beyond 32 bits, where its doubles are free.
 */
export type Instant = number | bigint

declare const spanBrand: unique symbol
/** A duration in the clock's unit, from `span(ms)`: never a plain number of milliseconds. */
export type Span = Instant & { readonly [spanBrand]: true }

/** Where a cached answer stands: within its expiry, past it but still trusted, or past both. */
export type Freshness = "fresh" | "stale" | "expired"

/**
 * A monotonic clock in its own unit. Only the clock does arithmetic on its instants: the rest of
 * the code keeps them, and compares through `freshness`.
 */
export interface FreshnessClock<T extends Instant = Instant> {
  now(): T
  /** `ms` milliseconds (non-negative) in the clock's unit. */
  span(ms: number): T & Span
  /** "fresh" up to `expiry` after `since`, "stale" up to `trusted` after it, then "expired". */
  freshness(since: T, expiry: T & Span, trusted: T & Span): Freshness
}

const freshness = <T extends Instant>(age: T, expiry: T, trusted: T): Freshness =>
  age <= expiry ? "fresh" : age <= trusted ? "stale" : "expired"

/** The longest span a 64-bit count of nanoseconds holds (292 years): longer is forever. */
const FOREVER_NS = 2n ** 63n - 1n

export const nanosecondClock: FreshnessClock<bigint> = {
  // `process.hrtime.bigint` looked up on each call, as fake timers replace it.
  now: () => process.hrtime.bigint(),
  span: (ms) => (ms * 1e6 >= 2 ** 63 ? FOREVER_NS : BigInt(Math.round(ms * 1e6))) as bigint & Span,
  freshness: (since, expiry, trusted) =>
    freshness(process.hrtime.bigint() - since, expiry, trusted),
}

export const millisecondClock: FreshnessClock<number> = {
  now: () => performance.now(),
  span: (ms) => ms as number & Span,
  freshness: (since, expiry, trusted) => freshness(performance.now() - since, expiry, trusted),
}

/** What `clockFor` reads of the global scope. */
export interface RuntimeGlobals {
  process?: { versions?: { node?: string; bun?: string; deno?: string } }
  navigator?: { userAgent?: string }
}

/**
 * Node's nanosecond clock on Node itself; milliseconds elsewhere, including Bun, Deno and
 * Cloudflare Workers, whose `process` (when they have one) says it is Node's.
 */
export function clockFor(globals: RuntimeGlobals): FreshnessClock {
  const versions = globals.process?.versions
  const node =
    versions?.node !== undefined &&
    versions.bun === undefined &&
    versions.deno === undefined &&
    globals.navigator?.userAgent !== "Cloudflare-Workers"
  return node ? nanosecondClock : millisecondClock
}

export const freshnessClock: FreshnessClock = clockFor(globalThis as RuntimeGlobals)

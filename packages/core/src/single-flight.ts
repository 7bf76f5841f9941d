/**
 * Concurrent calls with one key share one execution and its result or error
 * (Go's golang.org/x/sync/singleflight, as upstream uses it).
 */
export class SingleFlight {
  readonly #inFlight = new Map<string, Promise<unknown>>()

  do<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.#inFlight.get(key)
    if (existing !== undefined) return existing as Promise<T>
    const call = (async () => {
      try {
        return await fn()
      } finally {
        this.#inFlight.delete(key)
      }
    })()
    this.#inFlight.set(key, call)
    return call
  }

  /** Keys with a call in flight. */
  get size(): number {
    return this.#inFlight.size
  }
}

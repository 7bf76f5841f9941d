/**
 * A Map bounded to `maxEntries`, dropping the least recently used entry first.
 * `touch` moves an entry to the most-recent end (Map keeps insertion order).
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>()
  readonly #maxEntries: number
  readonly #onEvict: ((key: K, value: V) => void) | undefined

  /** `onEvict` hears of each entry dropped to stay within the bound. */
  constructor(maxEntries: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`)
    }
    this.#maxEntries = maxEntries
    this.#onEvict = onEvict
  }

  get size(): number {
    return this.#entries.size
  }

  /** Reads without changing recency. */
  peek(key: K): V | undefined {
    return this.#entries.get(key)
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key)
    if (value !== undefined) {
      this.#entries.delete(key)
      this.#entries.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.entries().next()
      if (oldest.done) return
      const [oldestKey, oldestValue] = oldest.value
      this.#entries.delete(oldestKey)
      this.#onEvict?.(oldestKey, oldestValue)
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key)
  }

  /** The values, least recently used first. */
  values(): IterableIterator<V> {
    return this.#entries.values()
  }

  keys(): IterableIterator<K> {
    return this.#entries.keys()
  }

  clear(): void {
    this.#entries.clear()
  }
}

/**
 * Values per service, looked up by name and namespace through namespace → name maps: no key
 * string is built per lookup (what a warm request does), and the name strings a resolver
 * hands out again and again keep their cached hashes.
 */
export class ServiceMap<T> {
  private readonly byNamespace = new Map<string, Map<string, T>>()
  private count = 0

  get size(): number {
    return this.count
  }

  get(name: string, namespace: string): T | undefined {
    return this.byNamespace.get(namespace)?.get(name)
  }

  has(name: string, namespace: string): boolean {
    return this.byNamespace.get(namespace)?.has(name) ?? false
  }

  set(name: string, namespace: string, value: T): void {
    let names = this.byNamespace.get(namespace)
    if (names === undefined) {
      names = new Map()
      this.byNamespace.set(namespace, names)
    }
    if (!names.has(name)) this.count++
    names.set(name, value)
  }

  delete(name: string, namespace: string): boolean {
    const names = this.byNamespace.get(namespace)
    if (names === undefined || !names.delete(name)) return false
    this.count--
    if (names.size === 0) this.byNamespace.delete(namespace)
    return true
  }

  /** Every value; deleting the current one while iterating is allowed (Map semantics). */
  *values(): IterableIterator<T> {
    for (const names of this.byNamespace.values()) yield* names.values()
  }
}

/**
 * Activity shared by several gateway instances in front of the same services, so that no
 * instance scales down a service another instance is still using. Implementations: the
 * in-memory one below (instances in one process, and tests), `@scale-from-zero/redis`.
 */
export interface SharedActivity {
  /** Records that this instance used the service at `at` (epoch ms). Keeps the latest time. */
  record(name: string, namespace: string, at: number): Promise<void>
  /** The latest time any instance recorded for the service, or undefined when none did. */
  lastActive(name: string, namespace: string): Promise<number | undefined>
  /**
   * Claims the right to scale the service down for `ttlMs`: true for exactly one caller
   * among all instances until the claim expires.
   */
  claimScaleDown(name: string, namespace: string, ttlMs: number): Promise<boolean>
  /**
   * The services any instance recorded activity for, less those claimed for a scale-down since
   * their last record. With it, an instance also scales down idle services that only other
   * instances served: a gateway restarted since, a fresh Worker isolate. Without it, each
   * instance checks only the services it served itself.
   */
  recordedServices?(): Promise<Array<{ name: string; namespace: string }>>
}

/** SharedActivity for gateways in one process (and for tests of the protocol). */
export function createMemorySharedActivity(): SharedActivity {
  const lastActive = new Map<string, number>()
  const claims = new Map<string, number>()
  const recorded = new Map<string, { name: string; namespace: string }>()
  // Unambiguous for any characters: ("a/b", "ns") and ("b", "ns/a") stay apart.
  const key = (name: string, namespace: string) => JSON.stringify([namespace, name])
  return {
    async record(name, namespace, at) {
      const k = key(name, namespace)
      lastActive.set(k, Math.max(at, lastActive.get(k) ?? 0))
      recorded.set(k, { name, namespace })
    },
    async lastActive(name, namespace) {
      return lastActive.get(key(name, namespace))
    },
    async claimScaleDown(name, namespace, ttlMs) {
      const k = key(name, namespace)
      const now = Date.now()
      if ((claims.get(k) ?? 0) > now) return false
      claims.set(k, now + ttlMs)
      recorded.delete(k)
      return true
    },
    async recordedServices() {
      return [...recorded.values()].map((service) => ({ ...service }))
    },
  }
}

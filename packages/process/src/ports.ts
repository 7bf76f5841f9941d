import { createServer } from "node:net"
import type { PortRange } from "./options.js"

/** True when nothing listens on `host:port` (checked by binding it for a moment). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once("error", () => resolve(false))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** A port the operating system considers free on `host` now. */
export function ephemeralPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once("error", reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))))
    })
  })
}

/** Tries at an OS-assigned port not already taken by a replica that is starting. */
const EPHEMERAL_PORT_ATTEMPTS = 10

/** The ports one query's replicas hold (or have reserved while starting), across services. */
export interface PortPool {
  /** A free port of `range` (any free one without a range), reserved; undefined when none is. */
  take(range: PortRange | undefined): Promise<number | undefined>
  /** Gives a port back and calls the pool's `onRelease`. */
  release(port: number): void
  /** Whether a replica of this query holds a port of `range`: it comes free once that one is gone. */
  holdsAnyOf(range: PortRange): boolean
}

export function createPortPool(host: string, onRelease: () => void): PortPool {
  const held = new Set<number>()
  return {
    async take(range) {
      if (range === undefined) {
        for (let attempt = 0; attempt < EPHEMERAL_PORT_ATTEMPTS; attempt++) {
          const port = await ephemeralPort(host).catch(() => undefined)
          if (port !== undefined && !held.has(port)) {
            held.add(port)
            return port
          }
        }
        return undefined
      }
      for (let port = range.from; port <= range.to; port++) {
        if (held.has(port)) continue
        held.add(port) // reserved before the await, so no other start takes it meanwhile
        if (await isPortFree(host, port)) return port
        held.delete(port)
      }
      return undefined
    },
    release(port) {
      held.delete(port)
      onRelease()
    },
    holdsAnyOf(range) {
      for (const port of held) if (port >= range.from && port <= range.to) return true
      return false
    },
  }
}

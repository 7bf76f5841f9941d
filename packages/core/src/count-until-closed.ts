// Counting a passed request until a Node object closes, for the Node bridge and for the web
// bridge on @hono/node-server; no node: import (core/web also runs on Workers, Deno and Bun).
import type { Gate, GatePass, Traffic } from "./gate.js"

/**
 * What emits `close` once: a Node `http.ServerResponse` (when it ended or its connection
 * dropped; its socket's bytes are its traffic) or an upgraded socket (whichever side closed it;
 * its own bytes are its traffic).
 */
export interface NodeClosable {
  readonly closed?: boolean
  readonly socket?: Traffic | null
  on(event: "close", listener: () => void): unknown
}

/** The traffic of a connection whose bytes cannot be read (a test double): none, ever. */
export const NO_TRAFFIC: Traffic = { bytesRead: 0, bytesWritten: 0 }

/** A response's socket, or the socket itself; a stream that counts no bytes has no traffic. */
export function trafficOf(closable: NodeClosable | object): Traffic {
  const source = ("socket" in closable ? closable.socket : undefined) ?? closable
  return "bytesRead" in source && "bytesWritten" in source ? (source as Traffic) : NO_TRAFFIC
}

/**
 * Counts a tracked pass in flight until `closable` closes, or not at all when it already has.
 * `close` fires once, so the service's own `finished` is the listener (no closure, no `once`
 * wrapper per request); with `scaleToZero.connectionIdleMs` the request counts as an open
 * connection (`gate.open`) whose bytes are read.
 */
export function countUntilClosed(gate: Gate, pass: GatePass, closable: NodeClosable): void {
  const { inFlight } = pass
  if (inFlight === undefined) return
  if (closable.closed === true) inFlight.finished()
  else if (!inFlight.watchesTraffic) closable.on("close", inFlight.finished)
  else closable.on("close", gate.open(pass, trafficOf(closable)))
}

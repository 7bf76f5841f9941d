/** The part of a Node socket (net.Socket, stream.Duplex) a held upgrade uses; no node: import. */
export interface HeldSocket {
  readonly destroyed: boolean
  // biome-ignore lint/suspicious/noExplicitAny: Node's own listener type, so a Duplex fits
  on(event: string, listener: (...args: any[]) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off(event: string, listener: (...args: any[]) => void): unknown
  pause(): unknown
  unshift(chunk: Uint8Array): void
}

/** Bytes of early client data kept while an upgrade is held; past it the socket stops being read. */
export const MAX_HELD_UPGRADE_BYTES = 64 * 1024

/**
 * Watches the socket of an upgrade request while it is held, calling `onLeave` if the client
 * hangs up. Node stops reading such a socket once it emits `upgrade`, and a hang-up is only seen
 * by reading: what the client sends meanwhile is kept and put back, in order, by the returned
 * function, which leaves the socket as Node handed it over (unread, not paused by anyone).
 */
export function watchHeldSocket(socket: HeldSocket, onLeave: () => void): () => void {
  const early: Uint8Array[] = []
  let size = 0
  const onData = (chunk: Uint8Array) => {
    early.push(chunk)
    size += chunk.byteLength
    if (size > MAX_HELD_UPGRADE_BYTES) socket.pause()
  }
  // Node removed its own listeners before emitting `upgrade`: an error here is ours to catch.
  socket.on("error", onLeave)
  socket.on("end", onLeave)
  socket.on("close", onLeave)
  socket.on("data", onData)
  if (socket.destroyed) onLeave()
  return () => {
    socket.off("error", onLeave)
    socket.off("end", onLeave)
    socket.off("close", onLeave)
    socket.off("data", onData)
    socket.pause()
    for (let i = early.length - 1; i >= 0; i--)
      socket.unshift(early[i] as Uint8Array)
      // Not flowing, not paused by anyone: the next `data` listener (the handler's) starts it.
    ;(socket as { readableFlowing?: boolean | null }).readableFlowing = null
  }
}

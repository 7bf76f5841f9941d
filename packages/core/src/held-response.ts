import type { AbortListener, WaitSignal } from "./abortable.js"

/** Why a held request's wait ended early: the client closed its connection. */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError"
  constructor() {
    super("client closed the connection before the response was sent")
  }
}

/** The part of a Node `http.ServerResponse` a held request reads; no node: import. */
export interface HeldNodeResponse {
  readonly destroyed: boolean
  readonly writableFinished: boolean
  on(event: "close", listener: () => void): unknown
  off(event: "close", listener: () => void): unknown
}

/** The held request each watched response belongs to, for the one listener they share. */
const heldBy = new WeakMap<HeldNodeResponse, HeldResponse>()

/** The `close` listener of every held response (`this`): no closure per held request. */
function onHeldClose(this: HeldNodeResponse): void {
  if (!this.writableFinished) heldBy.get(this)?.abort()
}

/**
 * A held request's cancellation, read off its Node response: aborted once the response closes
 * before it was sent (the client hung up). It listens to the response only while the gate
 * listens to it, so a wait that ends removes the response's listener with its own; one object
 * per held request, where an AbortController costs an EventTarget, its maps and a listener.
 */
export class HeldResponse implements WaitSignal {
  private listeners: AbortListener | AbortListener[] | undefined
  private closedReason: ClientClosedError | undefined

  constructor(private readonly response: HeldNodeResponse) {}

  get aborted(): boolean {
    const { response } = this
    return this.closedReason !== undefined || (response.destroyed && !response.writableFinished)
  }

  get reason(): unknown {
    if (!this.aborted) return undefined
    this.closedReason ??= new ClientClosedError()
    return this.closedReason
  }

  addEventListener(_type: "abort", listener: AbortListener): void {
    const { listeners } = this
    if (listeners === undefined) {
      this.listeners = listener
      this.watch()
    } else if (Array.isArray(listeners)) {
      if (!listeners.includes(listener)) listeners.push(listener)
    } else if (listeners !== listener) {
      this.listeners = [listeners, listener]
    }
  }

  removeEventListener(_type: "abort", listener: AbortListener): void {
    const { listeners } = this
    if (listeners === undefined) return
    if (listeners === listener) this.listeners = undefined
    else if (Array.isArray(listeners)) {
      const at = listeners.indexOf(listener)
      if (at !== -1) listeners.splice(at, 1)
      if (listeners.length === 0) this.listeners = undefined
    }
    if (this.listeners === undefined) this.unwatch()
  }

  /** Every listener is called once, as an AbortSignal's added with `once`. */
  abort(): void {
    this.closedReason ??= new ClientClosedError()
    const { listeners } = this
    this.listeners = undefined
    this.unwatch()
    if (listeners === undefined) return
    for (const listener of Array.isArray(listeners) ? listeners : [listeners]) {
      if (typeof listener === "function") listener()
      else listener.handleEvent()
    }
  }

  private watch(): void {
    heldBy.set(this.response, this)
    this.response.on("close", onHeldClose)
  }

  private unwatch(): void {
    this.response.off("close", onHeldClose)
    if (heldBy.get(this.response) === this) heldBy.delete(this.response)
  }
}

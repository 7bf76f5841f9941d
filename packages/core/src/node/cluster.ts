import cluster, { type Worker } from "node:cluster"
import { asError } from "../abortable.js"
import { ERROR_CODES } from "../errors.js"
import { LruMap } from "../lru.js"
import { invalidOption, numberOption } from "../options.js"
import { createMemorySharedActivity, type SharedActivity } from "../shared-activity.js"
import { createMemorySharedWakes, type SharedWakes } from "../shared-wake.js"
import type { QueryOptions, ServiceQuery, ServiceQueryResponse } from "../types.js"

export interface ClusterSharedOptions {
  /**
   * Longest wait for the primary's answer to one request, in milliseconds. Past it the caller
   * carries on alone: a wake as if there were no other workers, a read straight from the
   * backend. Default 2000.
   */
  requestTimeoutMs?: number
  /**
   * Milliseconds a wake's claim lasts unless its worker renews it (every third of this); the
   * others look for a lapsed claim every quarter of it. A worker that exits releases its claims
   * at once, so this only bounds a worker that hangs. Give the same value in the primary and
   * the workers. Default 5000.
   */
  wakeClaimTtlMs?: number
  /**
   * Milliseconds a ready status read by one worker answers the other workers' reads of the
   * service (`shareReads`): with the gate's `cacheExpiry` (default 250), the backend is read
   * about as often as by one gateway. A status that is not ready is shared only while its read
   * is in flight, so a wake's polls always see the backend afresh. Default 250.
   */
  readySharedMs?: number
}

/**
 * The state the gateways in a `node:cluster`'s workers share, so that they act as one gateway.
 * The primary keeps it (in memory) and answers its workers over the cluster's IPC channel.
 */
export interface ClusterShared {
  /** `primary`: this process keeps the state; `worker`: it asks the primary. */
  readonly role: "primary" | "worker"
  /** The gate's `sharedWakes`: a cold burst over the workers makes one scale call and one wait. */
  readonly sharedWakes: SharedWakes
  /** The gate's `scaleToZero.shared`: no worker scales down a service another one still serves. */
  readonly sharedActivity: SharedActivity
  /**
   * `serviceQuery` with its reads shared by the workers: a read in flight in one worker answers
   * the others' (and a ready status, for `readySharedMs`), so the backend is not read once per
   * worker. Scale calls and watches go straight to `serviceQuery`.
   */
  shareReads(serviceQuery: ServiceQuery): ServiceQuery
  /**
   * Stops sharing: pending requests reject, listeners and timers are released. In a worker, its
   * claims are released; in the primary, the workers' requests go unanswered from now on.
   */
  close(): void
}

const TAG = "scale-from-zero/cluster@1"
const DEFAULT_REQUEST_TIMEOUT_MS = 2_000
const DEFAULT_WAKE_CLAIM_TTL_MS = 5_000
const DEFAULT_READY_SHARED_MS = 250
/** Ready statuses the primary keeps for `readySharedMs`, at most (least recently used go first). */
const MAX_SHARED_STATUSES = 10_000

type Message = Record<string, unknown>
type Post = (message: Message, onError: (error: Error) => void) => void

/** An error of the cluster channel: no answer in time, the channel closed, a refused request. */
function clusterError(message: string): Error {
  return Object.assign(new Error(`cluster state: ${message}`), { code: ERROR_CODES.cluster })
}

/**
 * Shared state for gateways running in `node:cluster` workers, called once in every process:
 * in the primary it keeps the state and answers the workers (call it before forking them); in a
 * worker it returns the views to hand the gate (`sharedWakes`, `scaleToZero.shared`, and the
 * backend through `shareReads`). The primary's own views share the same state, should it serve
 * too. When the primary does not answer (it runs no `createClusterShared`, or it hangs), each
 * worker carries on as if it were alone after `requestTimeoutMs`.
 */
export function createClusterShared(options: ClusterSharedOptions = {}): ClusterShared {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("options", "an object", options)
  }
  const settings = {
    requestTimeoutMs: numberOption(
      "requestTimeoutMs",
      options.requestTimeoutMs,
      DEFAULT_REQUEST_TIMEOUT_MS,
      "positive",
    ),
    wakeClaimTtlMs: numberOption(
      "wakeClaimTtlMs",
      options.wakeClaimTtlMs,
      DEFAULT_WAKE_CLAIM_TTL_MS,
      "positive",
    ),
    readySharedMs: numberOption(
      "readySharedMs",
      options.readySharedMs,
      DEFAULT_READY_SHARED_MS,
      "non-negative",
    ),
  }
  if (cluster.isPrimary) return primaryShared(settings)
  const send = process.send?.bind(process)
  if (send === undefined) throw clusterError("this worker has no IPC channel to its primary")
  const client = createClient((message, onError) => {
    send(message, undefined, {}, (error) => {
      if (error) onError(error)
    })
  }, settings)
  const onMessage = (message: unknown) => client.receive(message)
  process.on("message", onMessage)
  return client.views("worker", () => process.off("message", onMessage))
}

type Settings = Required<ClusterSharedOptions>

/** One primary keeps one state, however many times it asks for it. */
let hosting: { host: Host; users: number } | undefined

function primaryShared(settings: Settings): ClusterShared {
  if (hosting === undefined) {
    const host = createHost(settings)
    const onMessage = (worker: Worker, message: unknown) =>
      host.handle(`w${worker.id}`, message, (reply) => sendTo(worker, reply))
    const onExit = (worker: Worker) => host.drop(`w${worker.id}`)
    cluster.on("message", onMessage)
    cluster.on("exit", onExit)
    hosting = { host, users: 0 }
    host.onClose(() => {
      cluster.off("message", onMessage)
      cluster.off("exit", onExit)
    })
  }
  const current = hosting
  current.users++
  // The primary's own views go through the same protocol, in process (copied, as IPC would).
  let deliver = (_message: unknown) => {}
  const local = `p${Math.random().toString(36).slice(2)}`
  const client = createClient((message) => {
    const request = structuredClone(message)
    queueMicrotask(() =>
      current.host.handle(local, request, (reply) => {
        const copy = structuredClone(reply)
        queueMicrotask(() => deliver(copy))
      }),
    )
  }, settings)
  deliver = (message) => client.receive(message)
  return client.views("primary", () => {
    current.host.drop(local)
    if (--current.users === 0 && hosting === current) {
      hosting = undefined
      current.host.close()
    }
  })
}

function sendTo(worker: Worker, message: Message): void {
  try {
    // A worker that exited meanwhile: nobody to answer, and its exit releases what it held.
    if (worker.isConnected()) worker.send(message, undefined, () => {})
  } catch {
    // The channel closed between the check and the send: same as above.
  }
}

// ---- worker side (and the primary's own views) -------------------------------------------

interface Pending {
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

interface Client {
  receive(message: unknown): void
  views(role: ClusterShared["role"], detach: () => void): ClusterShared
}

function createClient(post: Post, settings: Settings): Client {
  const from = `${process.pid}-${Math.random().toString(36).slice(2)}`
  const pending = new Map<number, Pending>()
  const subscriptions = new Map<number, (status: ServiceQueryResponse) => void>()
  let lastId = 0
  let closed = false

  const notify = (op: string, fields: Message) => {
    if (!closed) post({ sfz: TAG, from, op, ...fields }, () => {})
  }

  /** One request to the primary, answered within requestTimeoutMs or rejected. */
  const request = (op: string, fields: Message, signal?: AbortSignal): Promise<unknown> => {
    if (closed) return Promise.reject(clusterError("closed"))
    if (signal?.aborted) return Promise.reject(signal.reason)
    const id = ++lastId
    return new Promise((resolve, reject) => {
      const finish = () => {
        pending.delete(id)
        clearTimeout(timer)
        signal?.removeEventListener("abort", onAbort)
      }
      const onAbort = () => {
        finish()
        reject(signal?.reason)
      }
      const timer = setTimeout(() => {
        finish()
        reject(clusterError(`no answer to ${op} within ${settings.requestTimeoutMs} ms`))
      }, settings.requestTimeoutMs)
      timer.unref?.()
      signal?.addEventListener("abort", onAbort, { once: true })
      pending.set(id, {
        resolve: (value) => {
          finish()
          resolve(value)
        },
        reject: (error) => {
          finish()
          reject(error)
        },
      })
      post({ sfz: TAG, from, id, op, ...fields }, (error) =>
        pending.get(id)?.reject(clusterError(`${op} not sent: ${error.message}`)),
      )
    })
  }

  const receive = (message: unknown) => {
    if (!isOurs(message) || message.to !== from) return
    if (typeof message.ready === "number") {
      if (isStatus(message.status)) subscriptions.get(message.ready)?.(message.status)
      return
    }
    if (typeof message.id !== "number") return
    const waiting = pending.get(message.id)
    if (waiting === undefined) {
      // Given a read to make after this request gave up waiting: hand it to the next worker.
      const value = message.value as { lead?: unknown; name?: unknown; namespace?: unknown }
      if (message.ok === true && value?.lead === true) {
        notify("readAbandoned", { name: value.name, namespace: value.namespace })
      }
      return
    }
    if (message.ok === true) waiting.resolve(message.value)
    else waiting.reject(clusterError(String(message.error)))
  }

  const target = (name: string, namespace: string) => ({ name, namespace })

  const sharedWakes: SharedWakes = {
    wakeClaimTtlMs: settings.wakeClaimTtlMs,
    claimWake: async (name, namespace) =>
      (await request("claimWake", target(name, namespace))) === true,
    renewWake: async (name, namespace) =>
      (await request("renewWake", target(name, namespace))) === true,
    async publishReady(name, namespace, status) {
      await request("publishReady", { ...target(name, namespace), status })
    },
    async releaseWake(name, namespace) {
      await request("releaseWake", target(name, namespace))
    },
    async onReady(name, namespace, listener, signal) {
      if (signal.aborted) return
      const sub = ++lastId
      subscriptions.set(sub, listener)
      const unsubscribe = () => {
        if (subscriptions.delete(sub)) notify("unsubscribe", { sub })
      }
      signal.addEventListener("abort", unsubscribe, { once: true })
      try {
        await request("subscribe", { ...target(name, namespace), sub }, signal)
      } catch (error) {
        signal.removeEventListener("abort", unsubscribe)
        unsubscribe()
        throw error
      }
    },
  }

  const sharedActivity: SharedActivity = {
    async record(name, namespace, at) {
      await request("record", { ...target(name, namespace), at })
    },
    async lastActive(name, namespace) {
      const at = await request("lastActive", target(name, namespace))
      return typeof at === "number" ? at : undefined
    },
    claimScaleDown: async (name, namespace, ttlMs) =>
      (await request("claimScaleDown", { ...target(name, namespace), ttlMs })) === true,
    async recordedServices() {
      const list = await request("recordedServices", {})
      return Array.isArray(list) ? (list as Array<{ name: string; namespace: string }>) : []
    },
  }

  const shareReads = (serviceQuery: ServiceQuery): ServiceQuery => {
    if (
      typeof serviceQuery?.getReplicas !== "function" ||
      typeof serviceQuery.setReplicas !== "function"
    ) {
      throw invalidOption("serviceQuery", "a ServiceQuery", serviceQuery)
    }
    const readAlone = (name: string, namespace: string, options?: QueryOptions) =>
      serviceQuery.getReplicas(name, namespace, options)
    const shared: ServiceQuery = {
      async getReplicas(name, namespace, options) {
        const signal = options?.signal
        let answer: { status?: unknown; error?: unknown; lead?: unknown }
        try {
          answer = (await request(
            "read",
            { ...target(name, namespace), maxAgeMs: settings.readySharedMs },
            signal,
          )) as typeof answer
        } catch (error) {
          if (signal?.aborted) throw error
          return readAlone(name, namespace, options) // the primary does not answer: read alone
        }
        if (isStatus(answer?.status)) return answer.status
        if (answer?.error !== undefined) throw rebuildError(answer.error)
        if (answer?.lead !== true) return readAlone(name, namespace, options)
        try {
          const status = await readAlone(name, namespace, options)
          notify("readDone", { ...target(name, namespace), status })
          return status
        } catch (error) {
          // Aborted here (this caller left): another worker's caller may still want the status.
          if (signal?.aborted) notify("readAbandoned", target(name, namespace))
          else notify("readFailed", { ...target(name, namespace), error: describeError(error) })
          throw error
        }
      },
      async setReplicas(name, namespace, count, options) {
        try {
          await serviceQuery.setReplicas(name, namespace, count, options)
        } finally {
          // The shared ready status may be wrong from now on (a scale to zero): read afresh.
          notify("forget", target(name, namespace))
        }
      },
    }
    if (serviceQuery.defaultNamespace !== undefined) {
      Object.defineProperty(shared, "defaultNamespace", { value: serviceQuery.defaultNamespace })
    }
    const { watch } = serviceQuery
    if (watch !== undefined) {
      shared.watch = (name, namespace, onChange, options) =>
        watch.call(serviceQuery, name, namespace, onChange, options)
    }
    return shared
  }

  return {
    receive,
    views: (role, detach) => ({
      role,
      sharedWakes,
      sharedActivity,
      shareReads,
      close() {
        if (closed) return
        notify("leave", {})
        closed = true
        detach()
        subscriptions.clear()
        for (const waiting of [...pending.values()]) waiting.reject(clusterError("closed"))
      },
    }),
  }
}

function isOurs(message: unknown): message is Message {
  return typeof message === "object" && message !== null && (message as Message).sfz === TAG
}

function isStatus(value: unknown): value is ServiceQueryResponse {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ServiceQueryResponse).replicas === "number" &&
    typeof (value as ServiceQueryResponse).availableReplicas === "number"
  )
}

/** What crosses the channel of a failed read: enough for `hasErrorCode` on the other side. */
function describeError(error: unknown) {
  const { name, message, code } = asError(error) as Error & { code?: unknown }
  return { name, message, ...(typeof code === "string" && { code }) }
}

function rebuildError(described: unknown): Error {
  const { name, message, code } = (described ?? {}) as Record<string, unknown>
  const error = new Error(typeof message === "string" ? message : "read failed in another worker")
  if (typeof name === "string") error.name = name
  if (typeof code === "string") Object.assign(error, { code })
  return error
}

// ---- primary side ------------------------------------------------------------------------

/** A client the primary answers: one per createClusterShared in a worker (or in the primary). */
interface Peer {
  readonly wakes: SharedWakes
  /** Wakes this peer claimed and has not published or released, by service key. */
  readonly claims: Map<string, [name: string, namespace: string]>
  readonly subscriptions: Map<number, AbortController>
}

/** A read one peer makes for all: the others' requests wait for its status. */
interface SharedRead {
  reader: string
  /** When its reader was given it. */
  since: number
  readonly waiting: { peer: string; id: number; reply: (message: Message) => void }[]
}

interface Host {
  /** Answers one message of `source` (a worker, or the primary's own views); never throws. */
  handle(source: string, message: unknown, reply: (message: Message) => void): void
  /** Forgets every peer of `source`: its claims released, its subscriptions and reads handed on. */
  drop(source: string): void
  onClose(listener: () => void): void
  close(): void
}

function createHost(settings: Settings): Host {
  const wakes = createMemorySharedWakes(settings.wakeClaimTtlMs)
  const activity = createMemorySharedActivity()
  const peers = new Map<string, Peer>()
  const reads = new Map<string, SharedRead>()
  const readyStatuses = new LruMap<string, { status: ServiceQueryResponse; at: number }>(
    MAX_SHARED_STATUSES,
  )
  const closeListeners: (() => void)[] = []
  let closed = false

  const peerOf = (id: string) => {
    let peer = peers.get(id)
    if (peer === undefined) {
      peer = { wakes: wakes.instance(), claims: new Map(), subscriptions: new Map() }
      peers.set(id, peer)
    }
    return peer
  }

  const dropPeer = (id: string) => {
    const peer = peers.get(id)
    if (peer === undefined) return
    peers.delete(id)
    for (const controller of peer.subscriptions.values()) controller.abort()
    // Another worker waiting on these wakes takes them over at its next check.
    for (const [name, namespace] of peer.claims.values())
      void peer.wakes.releaseWake(name, namespace)
    for (const [key, read] of reads) {
      read.waiting.splice(
        0,
        read.waiting.length,
        ...read.waiting.filter((waiter) => waiter.peer !== id),
      )
      if (read.reader === id) handOn(key, read)
    }
  }

  /** The reader of `read` is gone or gave up: the next waiter reads, or nobody needs it. */
  const handOn = (key: string, read: SharedRead) => {
    const next = read.waiting.shift()
    if (next === undefined) {
      reads.delete(key)
      return
    }
    read.reader = next.peer
    read.since = Date.now()
    const [namespace, name] = JSON.parse(key) as [string, string]
    next.reply(answer(next.peer, next.id, { lead: true, name, namespace }))
  }

  const answer = (peer: string, id: number, value: unknown): Message => ({
    sfz: TAG,
    to: peerTarget(peer),
    id,
    ok: true,
    value,
  })

  const read = (
    peer: string,
    id: number,
    name: string,
    namespace: string,
    maxAgeMs: number,
    reply: (message: Message) => void,
  ) => {
    const key = JSON.stringify([namespace, name])
    const now = Date.now()
    const known = readyStatuses.peek(key)
    if (known !== undefined && now - known.at <= maxAgeMs) {
      reply(answer(peer, id, { status: known.status }))
      return
    }
    const current = reads.get(key)
    // A read older than a request's wait was lost (its worker hangs): this one reads instead.
    if (current !== undefined && now - current.since < settings.requestTimeoutMs) {
      current.waiting.push({ peer, id, reply })
      return
    }
    reads.set(key, { reader: peer, since: now, waiting: current?.waiting ?? [] })
    reply(answer(peer, id, { lead: true, name, namespace }))
  }

  const readEnded = (peer: string, name: string, namespace: string, value: unknown) => {
    const key = JSON.stringify([namespace, name])
    const current = reads.get(key)
    if (current?.reader !== peer) return
    if (value === undefined) {
      handOn(key, current)
      return
    }
    reads.delete(key)
    for (const waiter of current.waiting) waiter.reply(answer(waiter.peer, waiter.id, value))
  }

  const handle = async (
    source: string,
    message: Message,
    reply: (message: Message) => void,
  ): Promise<unknown> => {
    const peer = `${source}/${String(message.from)}`
    const { op, name, namespace } = message
    if (op === "leave") return dropPeer(peer)
    if (op === "unsubscribe") {
      const sub = message.sub
      const controller = typeof sub === "number" ? peers.get(peer)?.subscriptions : undefined
      controller?.get(sub as number)?.abort()
      controller?.delete(sub as number)
      return
    }
    if (op === "recordedServices") {
      if (typeof message.id !== "number") throw clusterError(`${op}: no request id`)
      return reply(answer(peer, message.id, await activity.recordedServices!()))
    }
    if (typeof name !== "string" || typeof namespace !== "string") {
      throw clusterError(`${String(op)}: name and namespace must be strings`)
    }
    const key = JSON.stringify([namespace, name])
    switch (op) {
      case "forget":
        readyStatuses.delete(key)
        return
      case "readDone":
        if (!isStatus(message.status)) return readEnded(peer, name, namespace, undefined)
        if (message.status.availableReplicas > 0) {
          readyStatuses.set(key, { status: message.status, at: Date.now() })
        } else readyStatuses.delete(key)
        return readEnded(peer, name, namespace, { status: message.status })
      case "readFailed":
        return readEnded(peer, name, namespace, { error: message.error ?? {} })
      case "readAbandoned":
        return readEnded(peer, name, namespace, undefined)
    }
    const id = message.id
    if (typeof id !== "number") throw clusterError(`${String(op)}: no request id`)
    const { wakes: view, claims, subscriptions } = peerOf(peer)
    switch (op) {
      case "read": {
        const maxAgeMs = typeof message.maxAgeMs === "number" ? message.maxAgeMs : 0
        return read(peer, id, name, namespace, maxAgeMs, reply)
      }
      case "claimWake": {
        const claimed = await view.claimWake(name, namespace)
        if (claimed) claims.set(key, [name, namespace])
        return reply(answer(peer, id, claimed))
      }
      case "renewWake": {
        const renewed = await view.renewWake(name, namespace)
        if (!renewed) claims.delete(key)
        return reply(answer(peer, id, renewed))
      }
      case "releaseWake":
        claims.delete(key)
        await view.releaseWake(name, namespace)
        return reply(answer(peer, id, null))
      case "publishReady":
        if (!isStatus(message.status)) throw clusterError("publishReady: status is not a status")
        claims.delete(key)
        await view.publishReady(name, namespace, message.status)
        return reply(answer(peer, id, null))
      case "subscribe": {
        const sub = message.sub
        if (typeof sub !== "number") throw clusterError("subscribe: no subscription id")
        subscriptions.get(sub)?.abort()
        const controller = new AbortController()
        subscriptions.set(sub, controller)
        const to = peerTarget(peer)
        await view.onReady(
          name,
          namespace,
          (status) => reply({ sfz: TAG, to, ready: sub, status }),
          controller.signal,
        )
        return reply(answer(peer, id, null))
      }
      case "record": {
        const at = message.at
        if (typeof at !== "number" || !Number.isFinite(at)) {
          throw clusterError("record: `at` must be a time in ms")
        }
        await activity.record(name, namespace, at)
        return reply(answer(peer, id, null))
      }
      case "lastActive":
        return reply(answer(peer, id, (await activity.lastActive(name, namespace)) ?? null))
      case "claimScaleDown": {
        const ttlMs = message.ttlMs
        if (typeof ttlMs !== "number" || !(ttlMs > 0)) {
          throw clusterError("claimScaleDown: ttlMs must be a positive number")
        }
        return reply(answer(peer, id, await activity.claimScaleDown(name, namespace, ttlMs)))
      }
      default:
        throw clusterError(`unknown request ${JSON.stringify(op)}`)
    }
  }

  return {
    handle(source, message, reply) {
      if (closed || !isOurs(message) || typeof message.from !== "string") return
      const refuse = (error: unknown) => {
        if (typeof message.id !== "number") return
        reply({
          sfz: TAG,
          to: message.from,
          id: message.id,
          ok: false,
          error: asError(error).message,
        })
      }
      handle(source, message, reply).catch(refuse)
    },
    drop(source) {
      for (const id of [...peers.keys()]) if (id.startsWith(`${source}/`)) dropPeer(id)
      for (const [key, read] of reads) {
        if (read.reader.startsWith(`${source}/`)) handOn(key, read)
      }
    },
    onClose(listener) {
      closeListeners.push(listener)
    },
    close() {
      if (closed) return
      closed = true
      for (const id of [...peers.keys()]) dropPeer(id)
      reads.clear()
      for (const listener of closeListeners.splice(0)) listener()
    },
  }
}

/** The `from` of a peer id (`source/from`): where its answers go. */
function peerTarget(peer: string): string {
  return peer.slice(peer.indexOf("/") + 1)
}

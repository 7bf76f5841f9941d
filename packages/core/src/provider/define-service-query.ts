import { asError } from "../abortable.js"
import { invalidOption, numberOption } from "../options.js"
import type { QueryOptions, ServiceQuery, ServiceQueryResponse, WatchOptions } from "../types.js"

/** What a provider's source of change hints tells the kit. */
export interface ChangeSink {
  /**
   * The source hears every change from now on: the kit stops polling and, after a gap (the
   * source connected asynchronously, or re-connected), re-reads every watched service once.
   */
  connected(): void
  /**
   * `service` (in the source's namespace) may have changed. Pass its status when the source
   * already holds it (an informer's store, an in-memory backend): the kit then reads nothing.
   */
  changed(service: string, status?: ServiceQueryResponse): void
  /** The source stopped hearing changes: the kit polls while it is down and opens it again. */
  failed(error: Error): void
}

export interface WatchErrorContext {
  namespace: string
  /** The service concerned; absent when the change source of the whole namespace failed. */
  service?: string
  /** What failed: the change source, a status read, or a watcher's own `onChange`. */
  source: "changes" | "read" | "listener"
}

/** Everything a backend must say; the kit does the rest. */
export interface ServiceQueryDefinition {
  /** Reads one service's status now. Throw an error with code `ERR_SERVICE_NOT_FOUND` for an unknown one. */
  read(service: string, namespace: string, options: QueryOptions): Promise<ServiceQueryResponse>
  /** Sets desired replicas; `count` is already checked to be a non-negative integer. */
  setReplicas(
    service: string,
    namespace: string,
    count: number,
    options: QueryOptions,
  ): Promise<void>
  /**
   * Opens a source of "this service may have changed" hints for one namespace; the kit keeps
   * it open while any service there is watched and aborts `signal` to close it. Without it the
   * query offers no `watch`, and the scaler polls.
   */
  changes?(namespace: string, sink: ChangeSink, signal: AbortSignal): void
  /** Milliseconds between reads of watched services while their change source is down. Default 1000. */
  pollIntervalMs?: number
  /**
   * Also re-read a watched service each poll interval while it has replicas not yet ready, for
   * backends whose readiness can change without a hint (Podman's healthchecks). Default false.
   */
  pollWhileStarting?: boolean
  /** Hears what a watch could not deliver (a watcher whose status read failed also gets `onError`). */
  onWatchError?(error: Error, context: WatchErrorContext): void
  /** Releases the backend's connections; called once by `close()`, after every watch has ended. */
  close?(): void | Promise<void>
}

/** A ServiceQuery built by the kit. */
export interface ProviderServiceQuery extends ServiceQuery {
  /** Watches not yet ended by their signal or `close()`. */
  readonly activeWatches: number
  /** Ends every watch and change source, then releases the backend. Idempotent. */
  close(): Promise<void>
}

export const DEFAULT_PROVIDER_POLL_INTERVAL_MS = 1000
/** A failing change source is opened again after the poll interval, doubling up to this. */
export const MAX_REOPEN_DELAY_MS = 30_000

interface Listener {
  readonly onChange: (status: ServiceQueryResponse) => void
  readonly onError: ((error: Error) => void) | undefined
  /** The status last delivered to this listener: a repeat is not delivered again. */
  last: string | undefined
  release(): void
}

/** One watched service: its listeners and its coalesced reads. */
interface Topic {
  readonly service: string
  readonly scope: Scope
  readonly listeners: Set<Listener>
  readonly controller: AbortController
  reading: boolean
  readAgain: boolean
  startingTimer: ReturnType<typeof setTimeout> | undefined
}

/** One namespace with watched services: its change source and, while that is down, polling. */
interface Scope {
  readonly namespace: string
  readonly topics: Map<string, Topic>
  source: AbortController | undefined
  failures: number
  pollTimer: ReturnType<typeof setTimeout> | undefined
  reopenTimer: ReturnType<typeof setTimeout> | undefined
}

const fingerprint = (s: ServiceQueryResponse) =>
  `${s.replicas}/${s.availableReplicas}/${s.minReplicas}/${s.maxReplicas}/${s.scalingFactor}`

/**
 * Builds a ServiceQuery from what a backend knows: how to read a status, how to set replicas
 * and, optionally, where to hear of changes. The kit owns the rest, once for every provider:
 * one read and one change source shared by all watchers of a service or namespace, repeats
 * dropped, a throwing watcher isolated from the others, `onError` to every watcher whose status
 * cannot be read, polling while the change source is down and opening it again, and cleanup.
 */
export function defineServiceQuery(definition: ServiceQueryDefinition): ProviderServiceQuery {
  if (typeof definition?.read !== "function") {
    throw invalidOption("read", "a function", definition?.read)
  }
  if (typeof definition.setReplicas !== "function") {
    throw invalidOption("setReplicas", "a function", definition.setReplicas)
  }
  const pollIntervalMs = numberOption(
    "pollIntervalMs",
    definition.pollIntervalMs,
    DEFAULT_PROVIDER_POLL_INTERVAL_MS,
    "positive",
  )
  const report = (error: Error, context: WatchErrorContext) => {
    try {
      definition.onWatchError?.(error, context)
    } catch {
      // A reporter that throws must not break the watch it reports on.
    }
  }
  const scopes = new Map<string, Scope>()
  let activeWatches = 0
  let closing: Promise<void> | undefined

  const deliver = (topic: Topic, status: ServiceQueryResponse) => {
    const seen = fingerprint(status)
    for (const listener of topic.listeners) {
      if (listener.last === seen) continue
      listener.last = seen
      try {
        listener.onChange(status)
      } catch (error) {
        report(asError(error), {
          namespace: topic.scope.namespace,
          service: topic.service,
          source: "listener",
        })
      }
    }
    if (definition.pollWhileStarting) recheckWhileStarting(topic, status)
  }

  const recheckWhileStarting = (topic: Topic, status: ServiceQueryResponse) => {
    if (status.replicas <= status.availableReplicas || topic.startingTimer !== undefined) return
    topic.startingTimer = setTimeout(() => {
      topic.startingTimer = undefined
      read(topic)
    }, pollIntervalMs)
  }

  /** Reads a watched service; a read asked for while one runs makes one more after it. */
  const read = (topic: Topic) => {
    if (topic.reading) {
      topic.readAgain = true
      return
    }
    topic.reading = true
    void (async () => {
      const { signal } = topic.controller
      try {
        do {
          topic.readAgain = false
          try {
            const status = await definition.read(topic.service, topic.scope.namespace, { signal })
            if (!signal.aborted) deliver(topic, status)
          } catch (error) {
            if (signal.aborted) return
            const reason = asError(error)
            report(reason, {
              namespace: topic.scope.namespace,
              service: topic.service,
              source: "read",
            })
            for (const listener of topic.listeners) listener.onError?.(reason)
          }
        } while (topic.readAgain && !signal.aborted)
      } finally {
        topic.reading = false
      }
    })()
  }

  const readAll = (scope: Scope) => {
    for (const topic of scope.topics.values()) read(topic)
  }

  const stopPolling = (scope: Scope) => {
    clearTimeout(scope.pollTimer)
    clearTimeout(scope.reopenTimer)
    scope.pollTimer = undefined
    scope.reopenTimer = undefined
  }

  const poll = (scope: Scope) => {
    scope.pollTimer = setTimeout(() => poll(scope), pollIntervalMs)
    readAll(scope)
  }

  const openSource = (scope: Scope) => {
    const changes = definition.changes
    if (changes === undefined) return
    const source = new AbortController()
    scope.source = source
    let opening = true
    const current = () => scope.source === source && !source.signal.aborted
    const sink: ChangeSink = {
      connected() {
        if (!current()) return
        const afterGap = !opening || scope.failures > 0
        scope.failures = 0
        stopPolling(scope)
        if (afterGap) readAll(scope)
      },
      changed(service, status) {
        if (!current()) return
        const topic = scope.topics.get(service)
        if (topic === undefined) return
        if (status === undefined) read(topic)
        else deliver(topic, status)
      },
      failed(error) {
        if (!current()) return
        source.abort()
        scope.source = undefined
        report(asError(error), { namespace: scope.namespace, source: "changes" })
        sourceDown(scope)
      },
    }
    try {
      changes.call(definition, scope.namespace, sink, source.signal)
    } catch (error) {
      sink.failed(asError(error))
    } finally {
      opening = false
    }
  }

  /** Reads every watched service now (a dead backend is reported at once), polls, re-opens. */
  const sourceDown = (scope: Scope) => {
    scope.failures++
    readAll(scope)
    if (scope.pollTimer === undefined) {
      scope.pollTimer = setTimeout(() => poll(scope), pollIntervalMs)
    }
    const delay = Math.min(pollIntervalMs * 2 ** (scope.failures - 1), MAX_REOPEN_DELAY_MS)
    clearTimeout(scope.reopenTimer)
    scope.reopenTimer = setTimeout(() => {
      scope.reopenTimer = undefined
      openSource(scope)
    }, delay)
  }

  const unsubscribe = (topic: Topic, listener: Listener) => {
    if (!topic.listeners.delete(listener)) return
    listener.release()
    activeWatches--
    if (topic.listeners.size > 0) return
    topic.controller.abort()
    clearTimeout(topic.startingTimer)
    const { scope } = topic
    if (scope.topics.get(topic.service) === topic) scope.topics.delete(topic.service)
    if (scope.topics.size > 0) return
    stopPolling(scope)
    scope.source?.abort()
    scope.source = undefined
    if (scopes.get(scope.namespace) === scope) scopes.delete(scope.namespace)
  }

  const watch = (
    service: string,
    namespace: string,
    onChange: (status: ServiceQueryResponse) => void,
    options?: WatchOptions,
  ) => {
    const signal = options?.signal
    if (signal?.aborted || closing !== undefined) return
    let scope = scopes.get(namespace)
    const isNewScope = scope === undefined
    if (scope === undefined) {
      scope = {
        namespace,
        topics: new Map(),
        source: undefined,
        failures: 0,
        pollTimer: undefined,
        reopenTimer: undefined,
      }
      scopes.set(namespace, scope)
    }
    let topic = scope.topics.get(service)
    if (topic === undefined) {
      topic = {
        service,
        scope,
        listeners: new Set(),
        controller: new AbortController(),
        reading: false,
        readAgain: false,
        startingTimer: undefined,
      }
      scope.topics.set(service, topic)
    }
    const watched = topic
    const onAbort = () => unsubscribe(watched, listener)
    const listener: Listener = {
      onChange,
      onError: options?.onError,
      last: undefined,
      release: () => signal?.removeEventListener("abort", onAbort),
    }
    watched.listeners.add(listener)
    activeWatches++
    signal?.addEventListener("abort", onAbort, { once: true })
    if (isNewScope) openSource(scope)
  }

  const query: ProviderServiceQuery = {
    get activeWatches() {
      return activeWatches
    },
    async getReplicas(service, namespace, options) {
      options?.signal?.throwIfAborted()
      return definition.read(service, namespace, options ?? {})
    },
    async setReplicas(service, namespace, count, options) {
      if (!Number.isInteger(count) || count < 0) {
        throw new RangeError(`replicas must be a non-negative integer, got ${count}`)
      }
      options?.signal?.throwIfAborted()
      await definition.setReplicas(service, namespace, count, options ?? {})
    },
    close() {
      closing ??= (async () => {
        for (const scope of [...scopes.values()]) {
          for (const topic of [...scope.topics.values()]) {
            for (const listener of [...topic.listeners]) unsubscribe(topic, listener)
          }
        }
        await definition.close?.()
      })()
      return closing
    },
  }
  if (definition.changes !== undefined) query.watch = watch
  return query
}

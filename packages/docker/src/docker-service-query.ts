import {
  asError,
  DEFAULT_MAX_REPLICAS,
  DEFAULT_MIN_REPLICAS,
  DEFAULT_NAMESPACE,
  DEFAULT_SCALING_FACTOR,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  type QueryOptions,
  SCALING_FACTOR_LABEL,
  ServiceNotFoundError,
  type ServiceQuery,
  type ServiceQueryResponse,
} from "@scale-from-zero/core"
import {
  createEngine,
  DEFAULT_REQUEST_TIMEOUT,
  DockerEngineError,
  type EngineEndpointOptions,
} from "./engine.js"

/** The label naming the service a container belongs to. */
export const SERVICE_LABEL = "scale-from-zero.service"
/** The label naming the service's namespace; containers without it are in `defaultNamespace`. */
export const NAMESPACE_LABEL = "scale-from-zero.namespace"

export const DEFAULT_STOP_TIMEOUT = 10
export const DEFAULT_POLL_INTERVAL = 500

export interface DockerServiceQueryOptions extends EngineEndpointOptions {
  /** Namespace of containers that carry no `scale-from-zero.namespace` label. Default `openfaas-fn`. */
  defaultNamespace?: string
  /** Seconds a container is given to exit after SIGTERM when scaled down, before SIGKILL. Default 10. */
  stopTimeout?: number
  /** Offer `watch`, fed by the engine's event stream. Default true; false leaves callers to poll. */
  watch?: boolean
  /**
   * Milliseconds between status reads of a watched service while the event stream is down, or
   * while its running containers are not all healthy yet. Default 500.
   */
  pollInterval?: number
}

export interface DockerServiceQuery extends ServiceQuery {
  /** The engine's address, as named in errors: `unix:///var/run/docker.sock`. */
  readonly endpoint: string
  /** Watches not yet ended by their signal. */
  readonly activeWatches: number
  /** True while the shared event stream is connected (it is open only while something is watched). */
  readonly eventStreamConnected: boolean
  /** Event streams opened so far (one shared stream, re-opened after a drop). */
  readonly eventStreamsOpened: number
  /** Ends every watch, the event stream and idle connections. */
  close(): void
}

interface ContainerSummary {
  Id: string
  Names?: string[]
  State?: string
  Labels?: Record<string, string> | null
}

interface Listener {
  onChange(response: ServiceQueryResponse): void
  onError: ((error: Error) => void) | undefined
  /** The last pushed `replicas/availableReplicas`: only changes are pushed. */
  last: string | undefined
  /** Removes the listener on the caller's signal. */
  detach(): void
}

/** One watched service: its listeners and its (coalesced) status reads. */
interface Topic {
  readonly name: string
  readonly namespace: string
  readonly listeners: Set<Listener>
  readonly controller: AbortController
  reading: boolean
  readAgain: boolean
  /** Re-reads a service whose running containers are not all available yet. */
  settleTimer: ReturnType<typeof setTimeout> | undefined
}

export function createDockerServiceQuery(
  options: DockerServiceQueryOptions = {},
): DockerServiceQuery {
  const engine = createEngine(options)
  const defaultNamespace = options.defaultNamespace ?? DEFAULT_NAMESPACE
  const stopTimeout = options.stopTimeout ?? DEFAULT_STOP_TIMEOUT
  if (!Number.isInteger(stopTimeout) || stopTimeout < 0) {
    throw new RangeError(`stopTimeout must be a non-negative integer, got ${stopTimeout}`)
  }
  const pollInterval = options.pollInterval ?? DEFAULT_POLL_INTERVAL
  if (!Number.isFinite(pollInterval) || pollInterval <= 0) {
    throw new RangeError(`pollInterval must be a positive number, got ${pollInterval}`)
  }
  const requestTimeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT

  const unexpected = (what: string) =>
    new DockerEngineError(
      `docker engine at ${engine.endpoint}: unexpected ${what}`,
      engine.endpoint,
    )

  const namespaceOf = (labels: Record<string, string>) =>
    labels[NAMESPACE_LABEL] ?? defaultNamespace

  /** The service's containers, in name order (so scaling up and down picks them predictably). */
  const containersOf = async (name: string, namespace: string, signal?: AbortSignal) => {
    const { body } = await engine.call({
      method: "GET",
      path: "/containers/json",
      query: { all: "true", filters: JSON.stringify({ label: [`${SERVICE_LABEL}=${name}`] }) },
      signal,
    })
    if (!Array.isArray(body)) throw unexpected("answer to GET /containers/json")
    const containers = (body as ContainerSummary[]).filter(
      (container) => namespaceOf(container.Labels ?? {}) === namespace,
    )
    if (containers.length === 0) throw new ServiceNotFoundError(name, namespace)
    return containers.sort((a, b) => containerName(a).localeCompare(containerName(b)))
  }

  /** Running and, when it defines a healthcheck, healthy. A container gone meanwhile is not. */
  const isAvailable = async (container: ContainerSummary, signal?: AbortSignal) => {
    try {
      const { body } = await engine.call({
        method: "GET",
        path: `/containers/${encodeURIComponent(container.Id)}/json`,
        signal,
      })
      const state = (body as { State?: { Running?: boolean; Health?: { Status?: string } } })?.State
      if (state?.Running !== true) return false
      const health = state.Health?.Status
      // Docker omits Health without a healthcheck; Podman reports an empty status.
      return health === undefined || health === "" || health === "none" || health === "healthy"
    } catch (error) {
      if (error instanceof DockerEngineError && error.status === 404) return false
      throw error
    }
  }

  const getReplicas = async (name: string, namespace: string, queryOptions?: QueryOptions) => {
    const signal = queryOptions?.signal
    const containers = await containersOf(name, namespace, signal)
    const running = containers.filter((container) => container.State === "running")
    const available = await Promise.all(running.map((container) => isAvailable(container, signal)))
    const labels = { ...(containers[0]?.Labels ?? {}) }
    return {
      replicas: running.length,
      availableReplicas: available.filter(Boolean).length,
      minReplicas: labelNumber(labels, MIN_SCALE_LABEL, DEFAULT_MIN_REPLICAS, 0),
      maxReplicas: labelNumber(labels, MAX_SCALE_LABEL, DEFAULT_MAX_REPLICAS, 1),
      scalingFactor: labelNumber(labels, SCALING_FACTOR_LABEL, DEFAULT_SCALING_FACTOR, 0),
      labels,
    } satisfies ServiceQueryResponse
  }

  const act = (
    container: ContainerSummary,
    action: "start" | "stop" | "unpause",
    signal?: AbortSignal,
  ) =>
    engine.call({
      method: "POST",
      path: `/containers/${encodeURIComponent(container.Id)}/${action}`,
      // The engine answers a stop only once the container has exited: allow for its grace period.
      ...(action === "stop" && {
        query: { t: String(stopTimeout) },
        timeoutMs: requestTimeout + stopTimeout * 1000,
      }),
      signal,
    })

  const setReplicas = async (
    name: string,
    namespace: string,
    count: number,
    queryOptions?: QueryOptions,
  ) => {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`invalid replica count ${count}`)
    }
    const signal = queryOptions?.signal
    const containers = await containersOf(name, namespace, signal)
    const running = containers.filter((container) => container.State === "running")
    const stopped = containers.filter((container) => container.State !== "running")
    // A service has as many replicas as it has containers: none are created.
    const changes =
      count > running.length
        ? stopped
            .slice(0, count - running.length)
            .map((container) =>
              act(container, container.State === "paused" ? "unpause" : "start", signal),
            )
        : running.slice(count).map((container) => act(container, "stop", signal))
    await Promise.all(changes)
  }

  // Watches: one shared event stream for every watched service; polling while it is down.
  const topics = new Map<string, Topic>()
  let activeWatches = 0
  let stream: AbortController | undefined
  let streamConnected = false
  let streamsOpened = 0
  let pollTimer: ReturnType<typeof setTimeout> | undefined

  const topicKey = (name: string, namespace: string) => `${namespace}\u0000${name}`

  const deliver = (topic: Topic, status: ServiceQueryResponse) => {
    const fingerprint = `${status.replicas}/${status.availableReplicas}`
    for (const listener of topic.listeners) {
      if (listener.last === fingerprint) continue
      listener.last = fingerprint
      listener.onChange(status)
    }
  }

  /** Reads a watched service's status; a read asked for while one runs makes one more after it. */
  const read = (topic: Topic) => {
    if (topic.reading) {
      topic.readAgain = true
      return
    }
    topic.reading = true
    void (async () => {
      try {
        do {
          topic.readAgain = false
          let status: ServiceQueryResponse
          try {
            status = await getReplicas(topic.name, topic.namespace, {
              signal: topic.controller.signal,
            })
          } catch (error) {
            if (topic.controller.signal.aborted) return
            const reason = asError(error)
            for (const listener of topic.listeners) listener.onError?.(reason)
            continue
          }
          if (topic.controller.signal.aborted) return
          deliver(topic, status)
          settle(topic, status)
        } while (topic.readAgain)
      } finally {
        topic.reading = false
      }
    })()
  }

  /**
   * A health change may come with no event after it (Podman announces a check before its
   * result), so a service with running containers not yet available is re-read each interval.
   */
  const settle = (topic: Topic, status: ServiceQueryResponse) => {
    if (status.replicas <= status.availableReplicas || topic.settleTimer !== undefined) return
    topic.settleTimer = setTimeout(() => {
      topic.settleTimer = undefined
      read(topic)
    }, pollInterval)
  }

  const readAll = () => {
    for (const topic of topics.values()) read(topic)
  }

  const onEvent = (line: string) => {
    let event: { Type?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } }
    try {
      event = JSON.parse(line)
    } catch {
      return
    }
    const attributes = event.Actor?.Attributes
    const name = attributes?.[SERVICE_LABEL]
    // Every event counts, healthcheck execs too: Podman may send health_status before it
    // records the new health, and the exec's end is the next sign of it.
    if (name === undefined) return
    const topic = topics.get(topicKey(name, namespaceOf(attributes ?? {})))
    if (topic !== undefined) read(topic)
  }

  const stopPolling = () => {
    clearTimeout(pollTimer)
    pollTimer = undefined
  }

  /** While the stream is down: read every watched service now and each interval, and re-open it. */
  const poll = () => {
    pollTimer = setTimeout(poll, pollInterval)
    readAll()
    if (stream === undefined) openStream()
  }

  const dropped = (controller: AbortController) => {
    if (stream !== controller) return // closed on purpose, or already replaced
    stream = undefined
    streamConnected = false
    controller.abort()
    // Read at once (a dead engine is reported now), re-open on the next tick (no busy loop).
    readAll()
    if (pollTimer === undefined) pollTimer = setTimeout(poll, pollInterval)
  }

  const openStream = () => {
    const controller = new AbortController()
    stream = controller
    streamsOpened++
    engine
      .stream("/events", { filters: JSON.stringify({ type: ["container"] }) }, controller.signal)
      .then(
        (response) => {
          if (controller.signal.aborted) {
            response.destroy()
            return
          }
          controller.signal.addEventListener("abort", () => response.destroy(), { once: true })
          streamConnected = true
          stopPolling()
          // Whatever changed before the stream was up is read now.
          readAll()
          let pending = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => {
            pending += chunk
            let newline = pending.indexOf("\n")
            while (newline !== -1) {
              onEvent(pending.slice(0, newline))
              pending = pending.slice(newline + 1)
              newline = pending.indexOf("\n")
            }
          })
          response.on("error", () => {})
          response.on("close", () => dropped(controller))
        },
        () => dropped(controller),
      )
  }

  const closeStream = () => {
    stopPolling()
    const controller = stream
    stream = undefined
    streamConnected = false
    controller?.abort()
  }

  const unsubscribe = (key: string, topic: Topic, listener: Listener) => {
    if (!topic.listeners.delete(listener)) return
    listener.detach()
    activeWatches--
    if (topic.listeners.size > 0) return
    topic.controller.abort()
    clearTimeout(topic.settleTimer)
    if (topics.get(key) === topic) topics.delete(key)
    if (topics.size === 0) closeStream()
  }

  const query: DockerServiceQuery = {
    endpoint: engine.endpoint,
    get activeWatches() {
      return activeWatches
    },
    get eventStreamConnected() {
      return streamConnected
    },
    get eventStreamsOpened() {
      return streamsOpened
    },
    getReplicas,
    setReplicas,
    close() {
      for (const [key, topic] of [...topics]) {
        for (const listener of [...topic.listeners]) unsubscribe(key, topic, listener)
      }
      closeStream()
      engine.close()
    },
  }

  if (options.watch !== false) {
    query.watch = (name, namespace, onChange, watchOptions) => {
      const signal = watchOptions?.signal
      if (signal?.aborted) return
      const key = topicKey(name, namespace)
      let topic = topics.get(key)
      if (topic === undefined) {
        topic = {
          name,
          namespace,
          listeners: new Set(),
          controller: new AbortController(),
          reading: false,
          readAgain: false,
          settleTimer: undefined,
        }
        topics.set(key, topic)
      }
      const watched = topic
      const onAbort = () => unsubscribe(key, watched, listener)
      const listener: Listener = {
        onChange,
        onError: watchOptions?.onError,
        last: undefined,
        detach: () => signal?.removeEventListener("abort", onAbort),
      }
      watched.listeners.add(listener)
      activeWatches++
      signal?.addEventListener("abort", onAbort, { once: true })
      if (stream === undefined && pollTimer === undefined) openStream()
    }
  }
  return query
}

function containerName(container: ContainerSummary): string {
  return container.Names?.[0] ?? container.Id
}

function labelNumber(
  labels: Record<string, string>,
  label: string,
  fallback: number,
  min: number,
): number {
  const value = labels[label]
  if (value === undefined || !/^\d+$/.test(value.trim())) return fallback
  const parsed = Number.parseInt(value, 10)
  return parsed >= min ? parsed : fallback
}

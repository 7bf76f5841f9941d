import type { QueryOptions } from "@scale-from-zero/core"
import {
  asError,
  type ChangeSink,
  defineServiceQuery,
  invalidOption,
  numberOption,
  optionsObject,
  type ProviderServiceQuery,
  readScaleLabels,
  ServiceNotFoundError,
  type ServiceQueryResponse,
  type WatchErrorContext,
} from "@scale-from-zero/core/provider"
import {
  createEngine,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DockerEngineError,
  type EngineEndpointOptions,
} from "./engine.js"

/** The label naming the service a container belongs to. */
export const SERVICE_LABEL = "scale-from-zero.service"
/** The namespace of containers without a namespace label unless `defaultNamespace` says otherwise. */
export const DOCKER_NAMESPACE = "default"

/** The label naming the service's namespace; containers without it are in `defaultNamespace`. */
export const NAMESPACE_LABEL = "scale-from-zero.namespace"

export const DEFAULT_STOP_TIMEOUT_SECONDS = 10
export const DEFAULT_POLL_INTERVAL_MS = 500

export interface DockerServiceQueryOptions extends EngineEndpointOptions {
  /** Namespace of containers that carry no `scale-from-zero.namespace` label (the gate's default namespace too). Default `default`. */
  defaultNamespace?: string
  /** Seconds a container is given to exit after SIGTERM when scaled down, before SIGKILL. Default 10. */
  stopTimeoutSeconds?: number
  /** Offer `watch`, fed by the engine's event stream. Default true; false leaves callers to poll. */
  watch?: boolean
  /**
   * Milliseconds between status reads of a watched service while the event stream is down, or
   * while its running containers are not all healthy yet. Default 500.
   */
  pollIntervalMs?: number
  /**
   * Hears what a watch could not deliver: the event stream dropping (`source: "changes"`), a
   * status read failing, or a watcher's `onChange` throwing.
   */
  onWatchError?(error: Error, context: WatchErrorContext): void
}

export interface DockerServiceQuery extends ProviderServiceQuery {
  /** Namespace of containers without a namespace label; the gate's default namespace too. */
  readonly defaultNamespace: string
  /** The engine's address, as named in errors: `unix:///var/run/docker.sock`. */
  readonly endpoint: string
}

interface ContainerSummary {
  Id: string
  Names?: string[]
  State?: string
  Labels?: Record<string, string> | null
}

interface EngineEvent {
  Actor?: { Attributes?: Record<string, string> }
}

export function createDockerServiceQuery(given?: DockerServiceQueryOptions): DockerServiceQuery {
  const options = optionsObject(given, "{ socketPath, defaultNamespace }")
  const defaultNamespace = options.defaultNamespace ?? DOCKER_NAMESPACE
  if (typeof defaultNamespace !== "string" || defaultNamespace === "") {
    throw invalidOption("defaultNamespace", "a non-empty string", defaultNamespace)
  }
  const stopTimeoutSeconds = numberOption(
    "stopTimeoutSeconds",
    options.stopTimeoutSeconds,
    DEFAULT_STOP_TIMEOUT_SECONDS,
    "non-negative integer",
  )
  const pollIntervalMs = numberOption(
    "pollIntervalMs",
    options.pollIntervalMs,
    DEFAULT_POLL_INTERVAL_MS,
    "positive",
  )
  if (options.watch !== undefined && typeof options.watch !== "boolean") {
    throw invalidOption("watch", "a boolean", options.watch)
  }
  if (options.onWatchError !== undefined && typeof options.onWatchError !== "function") {
    throw invalidOption("onWatchError", "a function", options.onWatchError)
  }
  const engine = createEngine(options)
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS

  const namespaceOf = (labels: Record<string, string> | undefined) =>
    labels?.[NAMESPACE_LABEL] ?? defaultNamespace

  /** The service's containers, in name order (so scaling up and down picks them predictably). */
  const containersOf = async (name: string, namespace: string, signal?: AbortSignal) => {
    const { body } = await engine.call({
      method: "GET",
      path: "/containers/json",
      query: { all: "true", filters: JSON.stringify({ label: [`${SERVICE_LABEL}=${name}`] }) },
      signal,
    })
    if (!Array.isArray(body)) {
      throw new DockerEngineError(
        `docker engine at ${engine.endpoint}: unexpected answer to GET /containers/json`,
        { endpoint: engine.endpoint },
      )
    }
    const containers = (body as ContainerSummary[]).filter(
      (container) => namespaceOf(container.Labels ?? undefined) === namespace,
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

  const read = async (name: string, namespace: string, { signal }: QueryOptions) => {
    const containers = await containersOf(name, namespace, signal)
    const running = containers.filter((container) => container.State === "running")
    const available = await Promise.all(running.map((container) => isAvailable(container, signal)))
    const labels = { ...(containers[0]?.Labels ?? {}) }
    return {
      replicas: running.length,
      availableReplicas: available.filter(Boolean).length,
      ...readScaleLabels(labels),
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
        query: { t: String(stopTimeoutSeconds) },
        timeoutMs: requestTimeoutMs + stopTimeoutSeconds * 1000,
      }),
      signal,
    })

  const setReplicas = async (
    name: string,
    namespace: string,
    count: number,
    { signal }: QueryOptions,
  ) => {
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

  /** The engine's event stream, as hints for the kit: each event of a namespace's service. */
  const changes = (namespace: string, sink: ChangeSink, signal: AbortSignal) => {
    const filters = JSON.stringify({ type: ["container"] })
    engine.stream("/events", { filters }, signal).then(
      (response) => {
        if (signal.aborted) {
          response.destroy()
          return
        }
        signal.addEventListener("abort", () => response.destroy(), { once: true })
        sink.connected()
        let pending = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          pending += chunk
          let newline = pending.indexOf("\n")
          while (newline !== -1) {
            onEvent(namespace, sink, pending.slice(0, newline))
            pending = pending.slice(newline + 1)
            newline = pending.indexOf("\n")
          }
        })
        response.on("error", () => {}) // followed by close
        response.on("close", () =>
          sink.failed(
            new DockerEngineError(`docker engine at ${engine.endpoint}: event stream closed`, {
              endpoint: engine.endpoint,
            }),
          ),
        )
      },
      (error: unknown) => sink.failed(asError(error)),
    )
  }

  const onEvent = (namespace: string, sink: ChangeSink, line: string) => {
    let event: EngineEvent
    try {
      event = JSON.parse(line)
    } catch {
      return
    }
    const attributes = event.Actor?.Attributes
    const name = attributes?.[SERVICE_LABEL]
    // Every event counts, healthcheck execs too: Podman may send health_status before it
    // records the new health, and the exec's end is the next sign of it.
    if (name !== undefined && namespaceOf(attributes) === namespace) sink.changed(name)
  }

  const kit = defineServiceQuery({
    read,
    setReplicas,
    ...(options.watch !== false && { changes }),
    pollIntervalMs,
    // Podman sends no event for a healthcheck's result: a starting service is re-read.
    pollWhileStarting: true,
    ...(options.onWatchError && { onWatchError: options.onWatchError }),
    close: () => engine.close(),
  })
  return Object.assign(kit, { endpoint: engine.endpoint, defaultNamespace })
}

function containerName(container: ContainerSummary): string {
  return container.Names?.[0] ?? container.Id
}

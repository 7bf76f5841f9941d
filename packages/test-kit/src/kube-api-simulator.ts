/**
 * A Kubernetes API SIMULATOR for tests, on 127.0.0.1 only. It is not a cluster and not a fake of
 * the client: it speaks the API server's HTTP protocol, so the real @kubernetes/client-node talks to it.
 *
 * Simulated, following the API reference: apps/v1 Deployments and StatefulSets with their
 * `scale` subresource (autoscaling/v1 Scale: GET, PUT), discovery.k8s.io/v1 EndpointSlices, one
 * cluster-wide resourceVersion sequence with 409 Conflict on a stale write, list and watch
 * (newline-delimited JSON events over a chunked response, BOOKMARK with allowWatchBookmarks,
 * an ERROR event carrying a 410 Expired Status for a resourceVersion older than the watch
 * window, `timeoutSeconds`), a controller loop that starts pods after a scale-up (the workload's
 * status turns ready first, the pod's endpoint in the EndpointSlice a configurable delay later),
 * bearer-token authentication (401) and RBAC denial switches (403).
 */
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { KubeConfig } from "@kubernetes/client-node"

export type SimulatedKind = "Deployment" | "StatefulSet"
export type SimulatedResource = "deployments" | "statefulsets" | "endpointslices"
export type SimulatedVerb = "get" | "list" | "watch" | "update" | "patch"

export interface SimulatedWorkload {
  replicas?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  /** Labels of the pod template (merged after `app: NAME`). */
  templateLabels?: Record<string, string>
  templateAnnotations?: Record<string, string>
  /** Create the Service's EndpointSlice (named after the workload). Default true. */
  service?: boolean
}

export interface KubeApiSimulatorOptions {
  /** Milliseconds from a pod's creation until it is ready in the workload's status. Default 40. */
  podReadyDelayMs?: number
  /** Milliseconds from a pod turning ready until its endpoint is ready in the EndpointSlice. Default 40. */
  endpointReadyDelayMs?: number
  /** Called the moment a pod's endpoint turns ready (before its watch events go out). */
  onEndpointReady?: (namespace: string, serviceName: string) => void
  /** Milliseconds between BOOKMARK events on watches that allow them. Default 1000. */
  bookmarkIntervalMs?: number
  /** Watch events kept for resuming; a watch from an older resourceVersion gets 410. Default 1000. */
  watchWindow?: number
  /**
   * How a watch from a resourceVersion older than the window is refused: an ERROR event carrying
   * a 410 Expired Status on a 200 stream (the watch cache's way, the default), or a plain
   * HTTP 410 Gone answer (the way a request that cannot start its watch is refused).
   */
  expiredWatch?: "error-event" | "http-410"
  /** The bearer token the simulator accepts. Default "simulator-token". */
  token?: string
}

/** An rbac.authorization.k8s.io/v1 PolicyRule, as in a Role. */
export interface PolicyRule {
  apiGroups?: string[]
  resources?: string[]
  verbs: string[]
}

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  status: number
  /** The code of the ERROR event a watch was answered with (410 for a resourceVersion too old). */
  watchError?: number
}

interface KubeObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace: string
    uid: string
    resourceVersion: string
    generation?: number
    creationTimestamp: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: unknown[]
  }
  // biome-ignore lint/suspicious/noExplicitAny: the simulator handles several object shapes
  [field: string]: any
}

interface Pod {
  name: string
  ip: string
  uid: string
  ready: boolean
  routable: boolean
  timers: ReturnType<typeof setTimeout>[]
}

interface Workload {
  object: KubeObject
  pods: Pod[]
  serviceName: string | undefined
}

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED"
  resource: SimulatedResource
  namespace: string
  revision: number
  object: KubeObject
}

interface OpenWatch {
  resource: SimulatedResource
  namespace: string
  selector: Selector
  response: ServerResponse
  bookmarkTimer: ReturnType<typeof setInterval> | undefined
  timeoutTimer: ReturnType<typeof setTimeout> | undefined
}

type Selector = (object: KubeObject) => boolean

export interface KubeApiSimulator {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** A KubeConfig for the real client, pointing at the simulator with its bearer token. */
  kubeConfig(options?: { token?: string }): KubeConfig
  addWorkload(kind: SimulatedKind, namespace: string, name: string, spec?: SimulatedWorkload): void
  deleteWorkload(kind: SimulatedKind, namespace: string, name: string): void
  /** Scales as another client would (kubectl scale): the controller loop follows. */
  scale(kind: SimulatedKind, namespace: string, name: string, replicas: number): void
  /** The stored object, as GET would return it. */
  get(kind: SimulatedKind, namespace: string, name: string): KubeObject | undefined
  endpointSlice(namespace: string, serviceName: string): KubeObject | undefined
  /** The next `count` scale updates meet a concurrent writer that changes the object first. */
  interfereWithScaleUpdates(count: number): void
  /** Forbid a verb on a resource ("deployments/scale" for the subresource), in one namespace or all. */
  deny(verb: SimulatedVerb, resource: string, namespace?: string): void
  allowAll(): void
  /** Allows only what these RBAC PolicyRules grant (as a Role bound to the caller), until called with undefined. */
  enforceRules(rules: readonly PolicyRule[] | undefined): void
  /** Rejects every request with 401 until called again with false. */
  rejectCredentials(reject: boolean): void
  /**
   * Ends every open watch: "reset" breaks the connection (a restarting API server, a network
   * fault), "end" finishes the response cleanly (as the server does at a watch's timeout).
   */
  dropWatches(how?: "reset" | "end"): void
  /** Forgets every past event: a watch from any earlier resourceVersion now gets 410 Gone. */
  expireWatchWindow(): void
  readonly requests: readonly RecordedRequest[]
  readonly openWatches: number
  readonly resourceVersion: string
  close(): Promise<void>
}

const SERVICE_NAME_LABEL = "kubernetes.io/service-name"
const RESOURCE_OF: Record<SimulatedKind, SimulatedResource> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
}
const GROUP_OF: Record<SimulatedResource, string> = {
  deployments: "apps",
  statefulsets: "apps",
  endpointslices: "discovery.k8s.io",
}
const LIST_KIND: Record<SimulatedResource, [apiVersion: string, kind: string]> = {
  deployments: ["apps/v1", "DeploymentList"],
  statefulsets: ["apps/v1", "StatefulSetList"],
  endpointslices: ["discovery.k8s.io/v1", "EndpointSliceList"],
}
const OBJECT_KIND: Record<SimulatedResource, [apiVersion: string, kind: string]> = {
  deployments: ["apps/v1", "Deployment"],
  statefulsets: ["apps/v1", "StatefulSet"],
  endpointslices: ["discovery.k8s.io/v1", "EndpointSlice"],
}

function status(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details && { details }),
    code,
  }
}

/** Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`), comma-separated. */
function parseLabelSelector(selector: string | undefined): Selector {
  if (!selector) return () => true
  const tests = selector.split(",").map((term): Selector => {
    const [key, value] = term.split(/!=|==|=/).map((part) => part.trim())
    const labels = (object: KubeObject) => object.metadata.labels ?? {}
    if (key === undefined || key === "") throw new Error(`bad selector ${selector}`)
    if (term.includes("!=")) return (object) => labels(object)[key] !== value
    if (value !== undefined) return (object) => labels(object)[key] === value
    if (key.startsWith("!")) return (object) => !(key.slice(1) in labels(object))
    return (object) => key in labels(object)
  })
  return (object) => tests.every((test) => test(object))
}

function parseFieldSelector(selector: string | undefined): Selector {
  if (!selector) return () => true
  const match = /^metadata\.name=(.*)$/.exec(selector)
  if (!match) throw new Error(`unsupported field selector ${selector}`)
  return (object) => object.metadata.name === match[1]
}

function randomSuffix(length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789"
  let suffix = ""
  for (let i = 0; i < length; i++) suffix += alphabet[Math.floor(Math.random() * alphabet.length)]
  return suffix
}

const clone = <T>(value: T): T => structuredClone(value)

function readBody(request: IncomingMessage, limit = 1_000_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ""
    request.setEncoding("utf8")
    request.on("data", (chunk: string) => {
      body += chunk
      if (body.length > limit) reject(new Error("body too large"))
    })
    request.on("end", () => resolve(body))
    request.on("error", reject)
  })
}

export async function startKubeApiSimulator(
  options: KubeApiSimulatorOptions = {},
): Promise<KubeApiSimulator> {
  const podReadyDelayMs = options.podReadyDelayMs ?? 40
  const endpointReadyDelayMs = options.endpointReadyDelayMs ?? 40
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000
  const watchWindow = options.watchWindow ?? 1000
  const token = options.token ?? "simulator-token"
  const expiredWatch = options.expiredWatch ?? "error-event"

  let revision = 100
  /** Watches from a resourceVersion below this are too old (410). */
  let windowStart = revision
  const history: WatchEvent[] = []
  const workloads = new Map<string, Workload>()
  const slices = new Map<string, KubeObject>()
  const watches = new Set<OpenWatch>()
  const denied = new Set<string>()
  const requests: RecordedRequest[] = []
  let rejectingCredentials = false
  let enforcedRules: readonly PolicyRule[] | undefined
  let interferences = 0
  let nextIp = 10
  const sockets = new Set<import("node:net").Socket>()

  const workloadKey = (resource: SimulatedResource, namespace: string, name: string) =>
    `${resource}/${namespace}/${name}`
  const sliceKey = (namespace: string, serviceName: string) => `${namespace}/${serviceName}`

  const publish = (type: WatchEvent["type"], resource: SimulatedResource, object: KubeObject) => {
    const event: WatchEvent = {
      type,
      resource,
      namespace: object.metadata.namespace,
      revision: Number(object.metadata.resourceVersion),
      object: clone(object),
    }
    history.push(event)
    if (history.length > watchWindow) {
      history.shift()
      windowStart = history[0]!.revision - 1
    }
    for (const watch of watches) {
      if (watch.resource === resource && watch.namespace === event.namespace) {
        send(watch, event)
      }
    }
  }

  /** Stores a change: a new resourceVersion, then a watch event. */
  const commit = (type: WatchEvent["type"], resource: SimulatedResource, object: KubeObject) => {
    revision++
    object.metadata.resourceVersion = String(revision)
    publish(type, resource, object)
  }

  const send = (watch: OpenWatch, event: WatchEvent) => {
    if (!watch.selector(event.object)) return
    watch.response.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`)
  }

  // --- the controller loop: pods, workload status, EndpointSlices ---

  const writeSlice = (workload: Workload) => {
    const { serviceName } = workload
    if (serviceName === undefined) return
    const namespace = workload.object.metadata.namespace
    const slice = slices.get(sliceKey(namespace, serviceName))
    if (slice === undefined) return
    const endpoints = workload.pods.map((pod) => ({
      addresses: [pod.ip],
      conditions: { ready: pod.routable, serving: pod.routable, terminating: false },
      nodeName: "simulated-node",
      targetRef: { kind: "Pod", namespace, name: pod.name, uid: pod.uid },
    }))
    // The API server serialises an empty endpoint list as null.
    const next = endpoints.length === 0 ? null : endpoints
    if (JSON.stringify(next) === JSON.stringify(slice.endpoints)) return
    slice.endpoints = next
    slice.metadata.generation = (slice.metadata.generation ?? 1) + 1
    commit("MODIFIED", "endpointslices", slice)
  }

  const writeStatus = (workload: Workload) => {
    const { object, pods } = workload
    const ready = pods.filter((pod) => pod.ready).length
    const replicas = pods.length
    // Zero counts are omitted, as the API server's omitempty fields are.
    const count = (value: number) => (value === 0 ? undefined : value)
    const next =
      object.kind === "Deployment"
        ? {
            observedGeneration: object.metadata.generation,
            replicas: count(replicas),
            updatedReplicas: count(replicas),
            readyReplicas: count(ready),
            availableReplicas: count(ready),
            unavailableReplicas: count(replicas - ready),
            conditions: [
              {
                type: "Available",
                status: ready >= object.spec.replicas ? "True" : "False",
                reason:
                  ready >= object.spec.replicas
                    ? "MinimumReplicasAvailable"
                    : "MinimumReplicasUnavailable",
              },
            ],
          }
        : {
            observedGeneration: object.metadata.generation,
            replicas,
            readyReplicas: count(ready),
            currentReplicas: count(replicas),
            updatedReplicas: count(replicas),
            availableReplicas: count(ready),
            currentRevision: `${object.metadata.name}-7b9d5c6f4`,
            updateRevision: `${object.metadata.name}-7b9d5c6f4`,
            collisionCount: 0,
          }
    const cleaned = JSON.parse(JSON.stringify(next))
    if (JSON.stringify(cleaned) === JSON.stringify(object.status)) return
    object.status = cleaned
    commit("MODIFIED", RESOURCE_OF[object.kind as SimulatedKind], object)
  }

  const reconcile = (workload: Workload) => {
    const { object, pods } = workload
    const desired: number = object.spec.replicas
    while (pods.length > desired) {
      const pod = pods.pop()!
      for (const timer of pod.timers) clearTimeout(timer)
    }
    while (pods.length < desired) {
      const index = pods.length
      const name =
        object.kind === "StatefulSet"
          ? `${object.metadata.name}-${index}`
          : `${object.metadata.name}-7b9d5c6f4-${randomSuffix(5)}`
      const pod: Pod = {
        name,
        ip: `10.244.0.${nextIp++ % 250}`,
        uid: randomUUID(),
        ready: false,
        routable: false,
        timers: [],
      }
      // A StatefulSet's OrderedReady policy starts its pods one after another.
      const readyAt =
        object.kind === "StatefulSet" ? (index + 1) * podReadyDelayMs : podReadyDelayMs
      pod.timers.push(
        setTimeout(() => {
          pod.ready = true
          writeStatus(workload)
          pod.timers.push(
            setTimeout(() => {
              pod.routable = true
              if (workload.serviceName !== undefined) {
                options.onEndpointReady?.(object.metadata.namespace, workload.serviceName)
              }
              writeSlice(workload)
            }, endpointReadyDelayMs),
          )
        }, readyAt),
      )
      pods.push(pod)
    }
    writeStatus(workload)
    writeSlice(workload)
  }

  const findWorkload = (resource: SimulatedResource, namespace: string, name: string) =>
    workloads.get(workloadKey(resource, namespace, name))

  const setDesired = (workload: Workload, replicas: number) => {
    if (workload.object.spec.replicas === replicas) return
    workload.object.spec.replicas = replicas
    workload.object.metadata.generation = (workload.object.metadata.generation ?? 1) + 1
    commit("MODIFIED", RESOURCE_OF[workload.object.kind as SimulatedKind], workload.object)
    reconcile(workload)
  }

  const scaleOf = (workload: Workload): Record<string, unknown> => {
    const { object } = workload
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: object.metadata.name,
        namespace: object.metadata.namespace,
        uid: object.metadata.uid,
        resourceVersion: object.metadata.resourceVersion,
        creationTimestamp: object.metadata.creationTimestamp,
      },
      // The API server leaves a zero spec.replicas out of a Scale (omitempty; status.replicas stays).
      spec: object.spec.replicas === 0 ? {} : { replicas: object.spec.replicas },
      status: {
        replicas: object.status?.replicas ?? 0,
        selector: `app=${object.metadata.name}`,
      },
    }
  }

  // --- HTTP ---

  const reply = (response: ServerResponse, code: number, body: unknown) => {
    response.writeHead(code, { "content-type": "application/json" })
    response.end(JSON.stringify(body))
  }

  const listOf = (resource: SimulatedResource, namespace: string, selector: Selector) => {
    const objects =
      resource === "endpointslices"
        ? [...slices.values()]
        : [...workloads.values()]
            .filter((workload) => RESOURCE_OF[workload.object.kind as SimulatedKind] === resource)
            .map((workload) => workload.object)
    const [apiVersion, kind] = LIST_KIND[resource]
    return {
      apiVersion,
      kind,
      metadata: { resourceVersion: String(revision) },
      items: objects
        .filter((object) => object.metadata.namespace === namespace && selector(object))
        .map((object) => {
          // List items carry no kind or apiVersion on the wire.
          const { kind: _kind, apiVersion: _apiVersion, ...item } = clone(object)
          return item
        }),
    }
  }

  const openWatch = (
    record: RecordedRequest,
    request: IncomingMessage,
    response: ServerResponse,
    resource: SimulatedResource,
    namespace: string,
    selector: Selector,
    query: URLSearchParams,
  ) => {
    const from = query.get("resourceVersion")
    const since = Number(from)
    const fromNow = from === null || from === "" || from === "0"
    if (!fromNow && (!Number.isInteger(since) || since < windowStart)) {
      const expired = status(410, "Expired", `too old resource version: ${from} (${windowStart})`)
      record.watchError = 410
      if (expiredWatch === "http-410") {
        record.status = 410
        reply(response, 410, expired)
      } else {
        response.writeHead(200, { "content-type": "application/json" })
        response.end(`${JSON.stringify({ type: "ERROR", object: expired })}\n`)
      }
      return
    }
    response.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" })
    response.flushHeaders()
    const watch: OpenWatch = {
      resource,
      namespace,
      selector,
      response,
      bookmarkTimer: undefined,
      timeoutTimer: undefined,
    }
    const end = () => {
      clearInterval(watch.bookmarkTimer)
      clearTimeout(watch.timeoutTimer)
      watches.delete(watch)
    }
    request.on("close", end)
    response.on("close", end)
    const [apiVersion, kind] = OBJECT_KIND[resource]
    if (fromNow) {
      // "Get state and start at most recent": synthetic ADDED events for what exists now.
      for (const item of listOf(resource, namespace, selector).items) {
        response.write(
          `${JSON.stringify({ type: "ADDED", object: { apiVersion, kind, ...item } })}\n`,
        )
      }
    } else {
      for (const event of history) {
        if (
          event.revision > since &&
          event.resource === resource &&
          event.namespace === namespace
        ) {
          send(watch, event)
        }
      }
    }
    watches.add(watch)
    if (query.get("allowWatchBookmarks") === "true") {
      watch.bookmarkTimer = setInterval(() => {
        const bookmark = { apiVersion, kind, metadata: { resourceVersion: String(revision) } }
        response.write(`${JSON.stringify({ type: "BOOKMARK", object: bookmark })}\n`)
      }, bookmarkIntervalMs)
    }
    const timeoutSeconds = Number(query.get("timeoutSeconds") ?? "0")
    if (timeoutSeconds > 0) {
      watch.timeoutTimer = setTimeout(() => response.end(), timeoutSeconds * 1000)
    }
  }

  const verbOf = (method: string, isCollection: boolean, isWatch: boolean): SimulatedVerb =>
    method === "PUT"
      ? "update"
      : method === "PATCH"
        ? "patch"
        : isWatch
          ? "watch"
          : isCollection
            ? "list"
            : "get"

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://simulator")
    const query = url.searchParams
    const record: RecordedRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(query),
      status: 0,
    }
    requests.push(record)
    const answer = (code: number, body: unknown) => {
      record.status = code
      reply(response, code, body)
    }
    if (rejectingCredentials || request.headers.authorization !== `Bearer ${token}`) {
      answer(401, status(401, "Unauthorized", "Unauthorized"))
      return
    }
    const match =
      /^\/apis\/(apps|discovery\.k8s\.io)\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets|endpointslices)(?:\/([^/]+)(?:\/(scale))?)?$/.exec(
        url.pathname,
      )
    if (match === null || (match[1] === "apps") !== (match[3] !== "endpointslices")) {
      answer(404, status(404, "NotFound", "the server could not find the requested resource"))
      return
    }
    const namespace = match[2]!
    const resource = match[3] as SimulatedResource
    const name = match[4]
    const subresource = match[5]
    const isWatch = query.get("watch") === "true" || query.get("watch") === "1"
    const method = request.method ?? "GET"
    const verb = verbOf(method, name === undefined, isWatch)
    const resourceName = subresource ? `${resource}/${subresource}` : resource
    const group = GROUP_OF[resource]
    const grantedByRules =
      enforcedRules === undefined ||
      enforcedRules.some(
        (rule) =>
          (rule.apiGroups ?? [""]).some((g) => g === group || g === "*") &&
          (rule.resources ?? []).some((r) => r === resourceName || r === "*") &&
          rule.verbs.some((v) => v === verb || v === "*"),
      )
    if (
      !grantedByRules ||
      denied.has(`${verb} ${resourceName} ${namespace}`) ||
      denied.has(`${verb} ${resourceName} *`)
    ) {
      answer(
        403,
        status(
          403,
          "Forbidden",
          `${resource}.${group}${name ? ` "${name}"` : ""} is forbidden: User "system:serviceaccount:gateway:scale-from-zero" cannot ${verb} resource "${resourceName}" in API group "${group}" in the namespace "${namespace}"`,
          { ...(name && { name }), group, kind: resource },
        ),
      )
      return
    }

    if (name === undefined) {
      if (method !== "GET") {
        answer(
          405,
          status(
            405,
            "MethodNotAllowed",
            `the server does not allow this method on the requested resource`,
          ),
        )
        return
      }
      let selector: Selector
      try {
        const labels = parseLabelSelector(query.get("labelSelector") ?? undefined)
        const fields = parseFieldSelector(query.get("fieldSelector") ?? undefined)
        selector = (object) => labels(object) && fields(object)
      } catch (error) {
        answer(400, status(400, "BadRequest", (error as Error).message))
        return
      }
      if (isWatch) {
        record.status = 200
        openWatch(record, request, response, resource, namespace, selector, query)
        return
      }
      answer(200, listOf(resource, namespace, selector))
      return
    }

    if (resource === "endpointslices") {
      const slice = [...slices.values()].find(
        (object) => object.metadata.namespace === namespace && object.metadata.name === name,
      )
      if (slice === undefined || method !== "GET") {
        answer(
          404,
          status(404, "NotFound", `endpointslices.discovery.k8s.io "${name}" not found`, {
            name,
            group,
            kind: resource,
          }),
        )
        return
      }
      answer(200, slice)
      return
    }

    const workload = findWorkload(resource, namespace, name)
    if (workload === undefined) {
      answer(
        404,
        status(404, "NotFound", `${resource}.apps "${name}" not found`, {
          name,
          group,
          kind: resource,
        }),
      )
      return
    }
    if (subresource === undefined) {
      if (method !== "GET") {
        answer(405, status(405, "MethodNotAllowed", "this simulator serves GET on workloads"))
        return
      }
      answer(200, workload.object)
      return
    }
    if (method === "GET") {
      answer(200, scaleOf(workload))
      return
    }
    if (method !== "PUT") {
      answer(405, status(405, "MethodNotAllowed", "the scale subresource takes GET and PUT here"))
      return
    }
    let body: {
      kind?: string
      metadata?: { resourceVersion?: string }
      spec?: { replicas?: unknown }
    }
    try {
      body = JSON.parse(await readBody(request))
    } catch {
      answer(400, status(400, "BadRequest", "the request body is not JSON"))
      return
    }
    // An absent spec.replicas is 0, as the server decodes it.
    const replicas = body.spec?.replicas ?? 0
    if (body.kind !== "Scale" || !Number.isInteger(replicas) || (replicas as number) < 0) {
      answer(
        422,
        status(
          422,
          "Invalid",
          `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value`,
          {
            name,
            group: "autoscaling",
            kind: "Scale",
          },
        ),
      )
      return
    }
    if (interferences > 0) {
      interferences--
      workload.object.metadata.annotations = {
        ...workload.object.metadata.annotations,
        "simulator.scale-from-zero/concurrent-write": String(revision),
      }
      commit("MODIFIED", resource, workload.object)
    }
    const expected = body.metadata?.resourceVersion
    if (expected && expected !== workload.object.metadata.resourceVersion) {
      answer(
        409,
        status(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${resource}.apps "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          { name, group, kind: resource },
        ),
      )
      return
    }
    setDesired(workload, replicas as number)
    answer(200, scaleOf(workload))
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) reply(response, 500, status(500, "InternalError", String(error)))
      else response.destroy()
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const simulator: KubeApiSimulator = {
    url,
    kubeConfig(configOptions = {}) {
      const kubeConfig = new KubeConfig()
      kubeConfig.loadFromOptions({
        // The client allows plain http only with skipTLSVerify; the simulator listens on loopback.
        clusters: [{ name: "simulator", server: url, skipTLSVerify: true }],
        users: [{ name: "gateway", token: configOptions.token ?? token }],
        contexts: [
          { name: "simulator", cluster: "simulator", user: "gateway", namespace: "default" },
        ],
        currentContext: "simulator",
      })
      return kubeConfig
    },
    addWorkload(kind, namespace, name, spec = {}) {
      const resource = RESOURCE_OF[kind]
      const key = workloadKey(resource, namespace, name)
      if (workloads.has(key)) throw new Error(`${kind} ${namespace}/${name} exists`)
      const selectorLabels = { app: name }
      const object: KubeObject = {
        apiVersion: "apps/v1",
        kind,
        metadata: {
          name,
          namespace,
          uid: randomUUID(),
          resourceVersion: "",
          generation: 1,
          creationTimestamp: new Date().toISOString(),
          ...(spec.labels && { labels: spec.labels }),
          ...(spec.annotations && { annotations: spec.annotations }),
        },
        spec: {
          replicas: spec.replicas ?? 0,
          selector: { matchLabels: selectorLabels },
          template: {
            metadata: {
              labels: { ...selectorLabels, ...spec.templateLabels },
              ...(spec.templateAnnotations && { annotations: spec.templateAnnotations }),
            },
            spec: {
              containers: [
                { name, image: `example.com/${name}:1`, ports: [{ containerPort: 8080 }] },
              ],
            },
          },
          ...(kind === "Deployment"
            ? {
                strategy: {
                  type: "RollingUpdate",
                  rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" },
                },
              }
            : { serviceName: name, podManagementPolicy: "OrderedReady" }),
        },
        status: kind === "Deployment" ? {} : { replicas: 0 },
      }
      const serviceName = spec.service === false ? undefined : name
      const workload: Workload = { object, pods: [], serviceName }
      workloads.set(key, workload)
      commit("ADDED", resource, object)
      if (serviceName !== undefined && !slices.has(sliceKey(namespace, serviceName))) {
        const slice: KubeObject = {
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: {
            name: `${serviceName}-${randomSuffix(5)}`,
            namespace,
            uid: randomUUID(),
            resourceVersion: "",
            generation: 1,
            creationTimestamp: new Date().toISOString(),
            labels: {
              [SERVICE_NAME_LABEL]: serviceName,
              "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            ownerReferences: [
              {
                apiVersion: "v1",
                kind: "Service",
                name: serviceName,
                uid: randomUUID(),
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          addressType: "IPv4",
          endpoints: null,
          ports: [{ name: "http", protocol: "TCP", port: 8080 }],
        }
        slices.set(sliceKey(namespace, serviceName), slice)
        commit("ADDED", "endpointslices", slice)
      }
      reconcile(workload)
    },
    deleteWorkload(kind, namespace, name) {
      const resource = RESOURCE_OF[kind]
      const workload = findWorkload(resource, namespace, name)
      if (workload === undefined) return
      for (const pod of workload.pods) for (const timer of pod.timers) clearTimeout(timer)
      workloads.delete(workloadKey(resource, namespace, name))
      commit("DELETED", resource, workload.object)
    },
    scale(kind, namespace, name, replicas) {
      const workload = findWorkload(RESOURCE_OF[kind], namespace, name)
      if (workload === undefined) throw new Error(`${kind} ${namespace}/${name} not found`)
      setDesired(workload, replicas)
    },
    get(kind, namespace, name) {
      const workload = findWorkload(RESOURCE_OF[kind], namespace, name)
      return workload && clone(workload.object)
    },
    endpointSlice(namespace, serviceName) {
      const slice = slices.get(sliceKey(namespace, serviceName))
      return slice && clone(slice)
    },
    interfereWithScaleUpdates(count) {
      interferences = count
    },
    deny(verb, resource, namespace = "*") {
      denied.add(`${verb} ${resource} ${namespace}`)
    },
    allowAll() {
      denied.clear()
    },
    enforceRules(rules) {
      enforcedRules = rules
    },
    rejectCredentials(reject) {
      rejectingCredentials = reject
    },
    dropWatches(how = "reset") {
      for (const watch of [...watches]) {
        watches.delete(watch)
        if (how === "end") watch.response.end()
        else watch.response.destroy()
      }
    },
    expireWatchWindow() {
      history.length = 0
      revision++
      windowStart = revision
    },
    get requests() {
      return requests
    },
    get openWatches() {
      return watches.size
    },
    get resourceVersion() {
      return String(revision)
    },
    async close() {
      for (const workload of workloads.values()) {
        for (const pod of workload.pods) for (const timer of pod.timers) clearTimeout(timer)
      }
      simulator.dropWatches()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return simulator
}

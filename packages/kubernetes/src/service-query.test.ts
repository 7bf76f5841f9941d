import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KubeConfig } from "@kubernetes/client-node"
import {
  createFunctionScaler,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  SCALING_FACTOR_LABEL,
  ServiceNotFoundError,
  type ServiceQueryResponse,
} from "@scale-from-zero/core"
import {
  type KubeApiSimulator,
  type KubeApiSimulatorOptions,
  startKubeApiSimulator,
} from "@scale-from-zero/test-kit/kube-api-simulator"
import { describe, expect, it, onTestFinished } from "vitest"
import {
  createKubernetesServiceQuery,
  KubernetesApiError,
  KubernetesPermissionError,
  type KubernetesServiceQuery,
  type KubernetesServiceQueryOptions,
  KubernetesTimeoutError,
  KubernetesWatchError,
  type WatchErrorContext,
  type WorkloadKind,
} from "./index.js"

const NS = "team-a"

async function until<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  what: string,
  withinMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${withinMs}ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function setup(
  simulatorOptions: KubeApiSimulatorOptions = {},
  queryOptions: Omit<KubernetesServiceQueryOptions, "kubeConfig"> = {},
): Promise<{ simulator: KubeApiSimulator; query: KubernetesServiceQuery }> {
  const simulator = await startKubeApiSimulator({
    podReadyDelayMs: 20,
    endpointReadyDelayMs: 20,
    ...simulatorOptions,
  })
  const query = createKubernetesServiceQuery({
    kubeConfig: simulator.kubeConfig(),
    ...queryOptions,
  })
  onTestFinished(async () => {
    await query.close()
    await simulator.close()
  })
  return { simulator, query }
}

/** Subscribes to a service and keeps what it pushes and the errors it hears. */
function subscribe(query: KubernetesServiceQuery, service: string, namespace = NS) {
  const seen: ServiceQueryResponse[] = []
  const errors: Error[] = []
  const subscription = new AbortController()
  query.watch(service, namespace, (status) => seen.push(status), {
    signal: subscription.signal,
    onError: (error) => errors.push(error),
  })
  onTestFinished(() => subscription.abort())
  const latest = () => seen.at(-1)
  return { seen, errors, latest, subscription }
}

/** An onWatchError that keeps what it hears. */
function watchErrors() {
  const reports: { error: Error; context: WatchErrorContext }[] = []
  const onWatchError = (error: Error, context: WatchErrorContext) => {
    reports.push({ error, context })
  }
  const failures = () => reports.filter((report) => report.context.source === "changes")
  return { reports, failures, onWatchError }
}

const readyEndpointsIn = (simulator: KubeApiSimulator, service: string) =>
  (simulator.endpointSlice(NS, service)?.endpoints ?? []).filter(
    (endpoint: { conditions: { ready: boolean } }) => endpoint.conditions.ready,
  ).length

const watchRequests = (simulator: KubeApiSimulator, resource: string) =>
  simulator.requests.filter(
    (request) => request.path.endsWith(`/${resource}`) && request.query.watch === "true",
  )
const listRequests = (simulator: KubeApiSimulator, resource: string) =>
  simulator.requests.filter(
    (request) => request.path.endsWith(`/${resource}`) && request.query.watch === undefined,
  )

describe("getReplicas", () => {
  it("reads desired replicas from spec, ready from status, labels and annotations from the workload and its pod template", async () => {
    const { simulator, query } = await setup({}, { readiness: "workload" })
    simulator.addWorkload("Deployment", NS, "api", {
      replicas: 1,
      labels: { team: "a", [MIN_SCALE_LABEL]: "9" },
      annotations: { owner: "ops" },
      templateLabels: { [MIN_SCALE_LABEL]: "2", [MAX_SCALE_LABEL]: "4" },
      templateAnnotations: { "prometheus.io/scrape": "true" },
    })
    const status = await until(
      () => query.getReplicas("api", NS),
      (s) => s.availableReplicas === 1,
      "the replica turning ready",
    )
    expect(status).toMatchObject({
      replicas: 1,
      availableReplicas: 1,
      minReplicas: 2,
      maxReplicas: 4,
    })
    // The pod template's labels win over the workload's, as faas-netes reads the template.
    expect(status.labels).toMatchObject({ team: "a", app: "api", [MIN_SCALE_LABEL]: "2" })
    expect(status.annotations).toEqual({ owner: "ops", "prometheus.io/scrape": "true" })
  })

  it("throws ServiceNotFoundError for a workload the API server does not have", async () => {
    const { query } = await setup()
    const error = await query.getReplicas("ghost", NS).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServiceNotFoundError)
    expect(error).toMatchObject({ service: "ghost", namespace: NS })
  })

  it("loads credentials as the client does (KUBECONFIG) when no KubeConfig is given", async () => {
    const simulator = await startKubeApiSimulator()
    const folder = await mkdtemp(join(tmpdir(), "sfz-kubeconfig-"))
    const previous = process.env.KUBECONFIG
    onTestFinished(async () => {
      if (previous === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = previous
      await rm(folder, { recursive: true, force: true })
      await simulator.close()
    })
    const file = join(folder, "config")
    await writeFile(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: simulator\n  cluster:\n    server: ${simulator.url}\n    insecure-skip-tls-verify: true`,
        "users:",
        "- name: gateway\n  user:\n    token: simulator-token",
        "contexts:",
        "- name: simulator\n  context:\n    cluster: simulator\n    user: gateway",
        "current-context: simulator",
      ].join("\n"),
    )
    process.env.KUBECONFIG = file
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    const query = createKubernetesServiceQuery()
    expect(await query.getReplicas("api", NS)).toMatchObject({ replicas: 0, availableReplicas: 0 })
  })

  it("rejects with the signal's reason when aborted in flight, and with a timeout error when the API server hangs", async () => {
    const sockets = new Set<import("node:net").Socket>()
    const silent: Server = createServer(() => {
      // never answers
    })
    silent.on("connection", (socket) => {
      sockets.add(socket)
    })
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    onTestFinished(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })
    const simulator = await startKubeApiSimulator()
    onTestFinished(() => simulator.close())
    const kubeConfig = simulator.kubeConfig()
    kubeConfig.clusters[0] = {
      ...kubeConfig.clusters[0]!,
      server: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
    }
    const query = createKubernetesServiceQuery({ kubeConfig, requestTimeoutMs: 200 })

    const started = Date.now()
    const timedOut = await query.getReplicas("api", NS).catch((e: unknown) => e)
    expect(timedOut).toBeInstanceOf(KubernetesTimeoutError)
    expect(Date.now() - started).toBeLessThan(1_500)

    const caller = new AbortController()
    const reason = new DOMException("the client left", "AbortError")
    setTimeout(() => caller.abort(reason), 50)
    const aborted = await query
      .setReplicas("api", NS, 1, { signal: caller.signal })
      .catch((e: unknown) => e)
    expect(aborted).toBe(reason)
  })
})

describe("setReplicas", () => {
  it("writes the scale subresource with the field manager, never the whole workload", async () => {
    const { simulator, query } = await setup({}, { fieldManager: "edge-gateway" })
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    await query.setReplicas("api", NS, 3)
    expect(simulator.get("Deployment", NS, "api")?.spec.replicas).toBe(3)
    const writes = simulator.requests.filter((request) => request.method !== "GET")
    expect(writes).toEqual([
      expect.objectContaining({
        method: "PUT",
        path: `/apis/apps/v1/namespaces/${NS}/deployments/api/scale`,
        query: { fieldManager: "edge-gateway" },
        status: 200,
      }),
    ])
    // Asking for the replicas it already has writes nothing.
    await query.setReplicas("api", NS, 3)
    expect(simulator.requests.filter((request) => request.method !== "GET")).toHaveLength(1)
    await expect(query.setReplicas("api", NS, -1)).rejects.toThrow(RangeError)
  })

  it("retries a 409 conflict on the freshly read object", async () => {
    const { simulator, query } = await setup()
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    simulator.interfereWithScaleUpdates(2)
    await query.setReplicas("api", NS, 1)
    const puts = simulator.requests.filter((request) => request.method === "PUT")
    expect(puts.map((request) => request.status)).toEqual([409, 409, 200])
    const reads = simulator.requests.filter((request) => request.path.endsWith("/api/scale"))
    // Each attempt reads the scale again before it writes.
    expect(reads.map((request) => request.method)).toEqual([
      "GET",
      "PUT",
      "GET",
      "PUT",
      "GET",
      "PUT",
    ])
    expect(simulator.get("Deployment", NS, "api")?.spec.replicas).toBe(1)
  })

  it("gives up after conflictRetries conflicts with the API server's 409", async () => {
    const { simulator, query } = await setup({}, { conflictRetries: 3 })
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    simulator.interfereWithScaleUpdates(100)
    const error = await query.setReplicas("api", NS, 1).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KubernetesApiError)
    expect(error).toMatchObject({ status: 409, reason: "Conflict" })
    expect(simulator.requests.filter((request) => request.method === "PUT")).toHaveLength(3)
  })
})

describe("endpoints readiness", () => {
  it("holds until the EndpointSlice has a ready endpoint even though the Deployment reports available", async () => {
    const { simulator, query } = await setup({ podReadyDelayMs: 20, endpointReadyDelayMs: 600 })
    const byWorkload = createKubernetesServiceQuery({
      kubeConfig: simulator.kubeConfig(),
      readiness: "workload",
    })
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    await query.setReplicas("api", NS, 1)
    await until(
      () => simulator.get("Deployment", NS, "api")?.status.availableReplicas,
      (available) => available === 1,
      "the Deployment reporting an available replica",
    )
    // The pod is in the slice, not ready yet: traffic could not reach it.
    expect(simulator.endpointSlice(NS, "api")?.endpoints).toHaveLength(1)
    expect(readyEndpointsIn(simulator, "api")).toBe(0)
    expect((await byWorkload.getReplicas("api", NS)).availableReplicas).toBe(1)
    expect((await query.getReplicas("api", NS)).availableReplicas).toBe(0)

    await until(
      () => readyEndpointsIn(simulator, "api"),
      (n) => n === 1,
      "the endpoint turning ready",
    )
    expect((await query.getReplicas("api", NS)).availableReplicas).toBe(1)
  })

  it("releases a cold start through the watch, without a poll tick, only once the endpoint is ready", async () => {
    const { simulator, query } = await setup({ podReadyDelayMs: 50, endpointReadyDelayMs: 300 })
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    // A poll interval of ten minutes: only a pushed status can release the wait in time.
    const scaler = createFunctionScaler({
      serviceQuery: query,
      functionPollInterval: 600_000,
      timeout: 10_000,
    })
    onTestFinished(() => scaler.close())
    const result = await scaler.scale("api", NS)
    // Checked in the same tick as the release: the endpoint was ready by then.
    expect(readyEndpointsIn(simulator, "api")).toBe(1)
    expect(result).toMatchObject({ available: true, found: true, coldStart: true })
    // Pod ready after 50 ms, endpoint 300 ms later; released within a moment of that,
    // though the poll interval is ten minutes.
    expect(result.durationMs).toBeGreaterThanOrEqual(350)
    expect(result.durationMs).toBeLessThan(1_350)
  })
})

describe("watch", () => {
  it("shares one watch per namespace and resource between services, and releases it with the last subscriber", async () => {
    const { simulator, query } = await setup()
    for (const name of ["one", "two"])
      simulator.addWorkload("Deployment", NS, name, { replicas: 0 })
    simulator.addWorkload("Deployment", "team-b", "three", { replicas: 0 })
    const one = subscribe(query, "one")
    const two = subscribe(query, "two")
    const three = subscribe(query, "three", "team-b")
    await until(
      () => simulator.openWatches,
      (n) => n === 4,
      "two watches in each namespace",
    )
    expect(query.activeWatches).toBe(3)
    expect(watchRequests(simulator, "deployments")).toHaveLength(2)
    expect(watchRequests(simulator, "endpointslices")).toHaveLength(2)
    for (const request of watchRequests(simulator, "deployments")) {
      expect(request.query).toMatchObject({ allowWatchBookmarks: "true" })
    }

    one.subscription.abort()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(simulator.openWatches).toBe(4)
    two.subscription.abort()
    await until(
      () => simulator.openWatches,
      (n) => n === 2,
      "team-a's watches ending",
    )
    expect(query.activeWatches).toBe(1)
    three.subscription.abort()
    await until(
      () => simulator.openWatches,
      (n) => n === 0,
      "every watch ending",
    )
    expect(query.activeWatches).toBe(0)

    // close() ends watches whose subscribers never left, and resolves once their requests ended.
    subscribe(query, "one")
    await until(
      () => simulator.openWatches,
      (n) => n === 2,
      "a new watch",
    )
    await query.close()
    expect(query.activeWatches).toBe(0)
    await until(
      () => simulator.openWatches,
      (n) => n === 0,
      "the server seeing them end",
      1_000,
    )
  })

  it.each(["reset", "end"] as const)(
    "resumes a watch whose connection ended (%s) from its last resourceVersion, without listing again",
    async (how) => {
      // The fallback polls once when the connection breaks, then not for a minute: the ready
      // state, 200 ms later, can only come through the resumed watch.
      const { simulator, query } = await setup({ podReadyDelayMs: 200 }, { pollIntervalMs: 60_000 })
      simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
      const { latest } = subscribe(query, "api")
      await until(latest, (s) => s !== undefined, "the first pushed status")
      const lists = listRequests(simulator, "deployments").length
      const watches = watchRequests(simulator, "deployments").length
      const seenVersion = Number(simulator.get("Deployment", NS, "api")?.metadata.resourceVersion)

      simulator.dropWatches(how)
      simulator.scale("Deployment", NS, "api", 1)
      await until(latest, (s) => s?.availableReplicas === 1, "the scale-up pushed after the drop")

      expect(listRequests(simulator, "deployments")).toHaveLength(lists)
      const resumed = watchRequests(simulator, "deployments")[watches]
      expect(resumed?.status).toBe(200)
      expect(Number(resumed?.query.resourceVersion)).toBeGreaterThanOrEqual(seenVersion)
    },
  )

  it("advances its resourceVersion with BOOKMARKs, so a resumed watch need not replay other namespaces' history", async () => {
    const { simulator, query } = await setup({ bookmarkIntervalMs: 20 })
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    const { latest } = subscribe(query, "api")
    await until(latest, (s) => s !== undefined, "the first pushed status")
    const ownVersion = Number(simulator.get("Deployment", NS, "api")?.metadata.resourceVersion)
    // Writes elsewhere advance the cluster's resourceVersion; this namespace hears only bookmarks.
    simulator.addWorkload("Deployment", "team-b", "other", { replicas: 0 })
    const advanced = Number(simulator.resourceVersion)
    expect(advanced).toBeGreaterThan(ownVersion)
    await new Promise((resolve) => setTimeout(resolve, 120))

    const watches = watchRequests(simulator, "deployments").length
    simulator.dropWatches()
    const resumed = await until(
      () => watchRequests(simulator, "deployments")[watches],
      (request) => request !== undefined,
      "the resumed watch",
    )
    expect(Number(resumed?.query.resourceVersion)).toBeGreaterThanOrEqual(advanced)
  })

  it.each(["error-event", "http-410"] as const)(
    "lists again when the API server answers 410 Gone (%s), and catches up with what changed meanwhile",
    async (expiredWatch) => {
      const { simulator, query } = await setup(
        { expiredWatch, podReadyDelayMs: 200 },
        { pollIntervalMs: 60_000 },
      )
      simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
      const { latest } = subscribe(query, "api")
      await until(latest, (s) => s !== undefined, "the first pushed status")
      const lists = listRequests(simulator, "deployments").length

      // The change happens while no watch is open, and then leaves the watch window.
      simulator.dropWatches()
      simulator.scale("Deployment", NS, "api", 1)
      simulator.expireWatchWindow()
      await until(
        latest,
        (s) => s?.availableReplicas === 1,
        "the scale-up pushed after the re-list",
      )

      expect(watchRequests(simulator, "deployments").some((r) => r.watchError === 410)).toBe(true)
      expect(listRequests(simulator, "deployments").length).toBeGreaterThan(lists)
    },
  )

  it("falls back to polling when the watch is forbidden, and reports why", async () => {
    const { failures, onWatchError } = watchErrors()
    const { simulator, query } = await setup({}, { pollIntervalMs: 30, onWatchError })
    simulator.deny("watch", "deployments")
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    const { latest, errors } = subscribe(query, "api")
    await query.setReplicas("api", NS, 1)
    await until(latest, (s) => s?.availableReplicas === 1, "the ready state found by polling")
    const forbidden = failures()[0]
    expect(forbidden?.context).toEqual({ namespace: NS, source: "changes" })
    expect(forbidden?.error).toBeInstanceOf(KubernetesPermissionError)
    expect(forbidden?.error).toMatchObject({ status: 403, verb: "watch", resource: "deployments" })
    expect(forbidden?.error.message).toContain(`watch deployments in namespace ${NS}`)
    // The watch is the one thing failing: the service's own reads succeed.
    expect(errors).toEqual([])
  })

  it("polls while a dropped watch may not restart, and stops polling once it is back", async () => {
    const { failures, onWatchError } = watchErrors()
    const { simulator, query } = await setup(
      { podReadyDelayMs: 50 },
      { pollIntervalMs: 40, onWatchError },
    )
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    const { latest } = subscribe(query, "api")
    await until(latest, (s) => s !== undefined, "the first pushed status")
    const reads = () =>
      simulator.requests.filter(
        (request) =>
          request.method === "GET" &&
          request.path === `/apis/apps/v1/namespaces/${NS}/deployments/api`,
      ).length

    // The connection flaps and the watch may not open again: polling carries the scale-up.
    simulator.deny("watch", "deployments")
    simulator.dropWatches("reset")
    simulator.scale("Deployment", NS, "api", 1)
    await until(latest, (s) => s?.availableReplicas === 1, "the ready state found by polling")
    expect(failures()[0]?.error).toMatchObject({ verb: "watch", resource: "deployments" })

    // Allowed again: the source is opened again and the watch, not polling, carries what follows.
    simulator.allowAll()
    await until(
      () => simulator.openWatches,
      (n) => n === 2,
      "both watches open again",
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
    const polled = reads()
    simulator.scale("Deployment", NS, "api", 0)
    await until(latest, (s) => s?.replicas === 0, "the scale-down pushed by the watch")
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(reads()).toBe(polled)
  })

  it("names the collection when its watch fails without an API answer, and retries with backoff", async () => {
    const simulator = await startKubeApiSimulator()
    const kubeConfig = simulator.kubeConfig()
    // Nothing listens there any more: every request is refused.
    await simulator.close()
    const { failures, onWatchError } = watchErrors()
    const query = createKubernetesServiceQuery({
      kubeConfig,
      readiness: "workload",
      pollIntervalMs: 30,
      onWatchError,
    })
    onTestFinished(() => query.close())
    const { errors } = subscribe(query, "api")
    await until(
      () => failures().length,
      (n) => n >= 3,
      "the source failing, opened again twice",
    )
    const [first] = failures()
    expect(first?.context).toEqual({ namespace: NS, source: "changes" })
    expect(first?.error).toBeInstanceOf(KubernetesWatchError)
    expect(first?.error).toMatchObject({ code: "ERR_BACKEND", resource: "deployments" })
    expect(first?.error.message).toContain(`the watch of deployments in namespace ${NS} failed`)
    // Each watcher hears that its service cannot be read while the polling goes on.
    expect(errors.length).toBeGreaterThan(0)
    // Opened again after 30, 60, 120 ms…: within 400 ms no more than five tries.
    const tries = failures().length
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(failures().length - tries).toBeLessThanOrEqual(2)
  })

  it("tells the watchers through onError when a workload's scale labels cannot be read", async () => {
    const { reports, onWatchError } = watchErrors()
    const { simulator, query } = await setup({}, { readiness: "workload", onWatchError })
    simulator.addWorkload("Deployment", NS, "api", {
      replicas: 0,
      templateLabels: { [SCALING_FACTOR_LABEL]: "0" },
    })
    const { errors, seen } = subscribe(query, "api")
    await until(
      () => errors.length,
      (n) => n > 0,
      "onError",
    )
    expect(errors[0]).toBeInstanceOf(RangeError)
    expect(reports).toContainEqual({
      error: errors[0],
      context: { namespace: NS, service: "api", source: "read" },
    })
    expect(seen).toEqual([])
  })
})

describe("options", () => {
  it("rejects an invalid option, naming it, what it must be and what it got", () => {
    const kubeConfig = new KubeConfig()
    const make = (options: Omit<KubernetesServiceQueryOptions, "kubeConfig">) => () =>
      createKubernetesServiceQuery({ kubeConfig, ...options })
    expect(() => createKubernetesServiceQuery(null as never)).toThrow(
      "option options must be an object such as { kind, readiness }, got null",
    )
    expect(make({ kind: "Pod" as WorkloadKind })).toThrow(
      'option kind must be "Deployment" or "StatefulSet", got "Pod"',
    )
    expect(make({ readiness: "pods" as "workload" })).toThrow(
      'option readiness must be "endpoints" or "workload", got "pods"',
    )
    expect(make({ requestTimeoutMs: 0 })).toThrow(
      "option requestTimeoutMs must be a positive number, got 0",
    )
    expect(make({ conflictRetries: 1.5 })).toThrow(
      "option conflictRetries must be a positive integer number, got 1.5",
    )
    expect(make({ watchTimeoutSeconds: 30.5 })).toThrow(
      "option watchTimeoutSeconds must be a positive integer number, got 30.5",
    )
    expect(make({ pollIntervalMs: -1 })).toThrow("option pollIntervalMs must be a positive")
    expect(make({ fieldManager: "" })).toThrow(
      'option fieldManager must be a non-empty string, got ""',
    )
  })
})

describe("RBAC and credentials", () => {
  it("names the verb and resource the service account lacks", async () => {
    const { simulator, query } = await setup()
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })

    simulator.deny("update", "deployments/scale", NS)
    const update = await query.setReplicas("api", NS, 1).catch((e: unknown) => e)
    expect(update).toBeInstanceOf(KubernetesPermissionError)
    expect(update).toMatchObject({
      status: 403,
      verb: "update",
      resource: "deployments/scale",
      namespace: NS,
    })
    expect((update as Error).message).toContain(
      `may not update deployments/scale in namespace ${NS}`,
    )

    simulator.allowAll()
    simulator.deny("get", "deployments")
    await expect(query.getReplicas("api", NS)).rejects.toThrow(
      `may not get deployments in namespace ${NS}`,
    )

    simulator.allowAll()
    simulator.deny("list", "endpointslices")
    await expect(query.getReplicas("api", NS)).rejects.toThrow(
      `may not list endpointslices in namespace ${NS}`,
    )

    simulator.allowAll()
    simulator.rejectCredentials(true)
    const unauthorized = await query.getReplicas("api", NS).catch((e: unknown) => e)
    expect(unauthorized).toBeInstanceOf(KubernetesPermissionError)
    expect(unauthorized).toMatchObject({ status: 401 })
    expect((unauthorized as Error).message).toContain("rejected the gateway's credentials")
  })

  it("hands the scaler a provider error (not a missing service) when scaling is forbidden", async () => {
    const { simulator, query } = await setup()
    simulator.addWorkload("Deployment", NS, "api", { replicas: 0 })
    simulator.deny("update", "deployments/scale")
    const scaler = createFunctionScaler({ serviceQuery: query, setScaleRetries: 1, timeout: 5_000 })
    onTestFinished(() => scaler.close())
    const result = await scaler.scale("api", NS)
    expect(result).toMatchObject({ available: false, found: true })
    expect(result.error).toBeInstanceOf(KubernetesPermissionError)
  })
})

describe("StatefulSet kind", () => {
  it("scales a StatefulSet through its scale subresource and reads its ready replicas", async () => {
    const { simulator, query } = await setup({}, { kind: "StatefulSet", readiness: "workload" })
    simulator.addWorkload("StatefulSet", NS, "db", {
      replicas: 0,
      templateLabels: { [MAX_SCALE_LABEL]: "3" },
    })
    const { seen, latest } = subscribe(query, "db")
    await query.setReplicas("db", NS, 2)
    expect(simulator.requests.find((r) => r.method === "PUT")?.path).toBe(
      `/apis/apps/v1/namespaces/${NS}/statefulsets/db/scale`,
    )
    await until(latest, (s) => s?.availableReplicas === 2, "both pods ready")
    // OrderedReady: the first pod is ready before the second.
    expect(seen.map((s) => s.availableReplicas)).toContain(1)
    expect(await query.getReplicas("db", NS)).toMatchObject({
      replicas: 2,
      availableReplicas: 2,
      maxReplicas: 3,
    })
    expect(await query.getReplicas("missing", NS).catch((e: unknown) => e)).toBeInstanceOf(
      ServiceNotFoundError,
    )
  })
})

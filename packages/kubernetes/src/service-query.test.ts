import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { KubeConfig } from "@kubernetes/client-node"
import type { ServiceQueryResponse } from "@scale-from-zero/core"
import {
  type KubeApiSimulator,
  type KubeApiSimulatorOptions,
  startKubeApiSimulator,
} from "@scale-from-zero/test-kit/kube-api-simulator"
import { describe, expect, it, onTestFinished } from "vitest"
import {
  createKubernetesServiceQuery,
  type KubernetesServiceQuery,
  type KubernetesServiceQueryOptions,
  KubernetesTimeoutError,
  KubernetesWatchError,
  type WatchErrorContext,
  type WorkloadKind,
} from "./index.js"

// The KUBERNETES API SIMULATOR, kept only for what the real kube-apiserver cannot produce on demand
// (a hanging or dropped connection, bookmarks on demand, a 410 as the HTTP status, per-client counts
// of open watches); everything else runs against the real server (real-server.test.ts and others).
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

const watchRequests = (simulator: KubeApiSimulator, resource: string) =>
  simulator.requests.filter(
    (request) => request.path.endsWith(`/${resource}`) && request.query.watch === "true",
  )
const listRequests = (simulator: KubeApiSimulator, resource: string) =>
  simulator.requests.filter(
    (request) => request.path.endsWith(`/${resource}`) && request.query.watch === undefined,
  )

describe("getReplicas", () => {
  it("rejects with the signal's reason when aborted in flight, and with a timeout error when the API server hangs (a silent server: the real one cannot be made to hang)", async () => {
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

describe("watch", () => {
  it("shares one watch per namespace and resource between services, and releases it with the last subscriber (simulator: it counts the open watch connections, which the real server does not report per client)", async () => {
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
    "resumes a watch whose connection ended (%s) from its last resourceVersion, without listing again (simulator: a dropped connection on demand)",
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

  it("advances its resourceVersion with BOOKMARKs, so a resumed watch need not replay other namespaces' history (simulator: bookmarks on demand; the real server sends them about once a minute)", async () => {
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

  // The real server's 410 (an ERROR event on the watch stream) is tested in watch-expired.test.ts.
  it.each(["http-410"] as const)(
    "lists again when the API server answers 410 Gone as the HTTP status (%s), and catches up with what changed meanwhile (simulator: the real server's watch cache answers with an ERROR event)",
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

  it("polls while a dropped watch may not restart, and stops polling once it is back (simulator: a dropped connection on demand)", async () => {
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

  it("names the collection when its watch fails without an API answer, and retries with backoff (no server at all: a refused connection)", async () => {
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

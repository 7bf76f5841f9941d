// The provider against a REAL kube-apiserver (v1.26.4 on etcd, one per test run, a fresh namespace
// per test). No controllers run there: startTestController writes workload status and
// EndpointSlices the way the deployment and endpoint-slice controllers would.
import {
  createFunctionScaler,
  MAX_SCALE_LABEL,
  MIN_SCALE_LABEL,
  SCALING_FACTOR_LABEL,
  ServiceNotFoundError,
  type ServiceQueryResponse,
} from "@scale-from-zero/core"
import {
  freshNamespace,
  grant,
  kube,
  kubeConfigWithToken,
  kubeRequest,
  loadKubeConfig,
  RecordingKubeConfig,
} from "@scale-from-zero/test-kit/kube-apiserver"
import { useKubeApiServer } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import {
  type ControlledKind,
  createWorkload,
  startTestController,
  type TestControllerOptions,
  workloadPath,
} from "@scale-from-zero/test-kit/kube-controller"
import { describe, expect, it, onTestFinished } from "vitest"
import {
  createKubernetesServiceQuery,
  KubernetesApiError,
  KubernetesPermissionError,
  type KubernetesServiceQuery,
  type KubernetesServiceQueryOptions,
  type WatchErrorContext,
} from "./index.js"

const server = useKubeApiServer()

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

interface Setup {
  kind?: ControlledKind
  /** Timing of the test controller, or false for none (the test writes status itself). */
  controller?: Pick<TestControllerOptions, "podReadyDelayMs" | "endpointReadyDelayMs"> | false
  query?: Omit<KubernetesServiceQueryOptions, "kubeConfig" | "kind">
}

/** A fresh namespace, a provider on a recording kubeconfig (admin), and the test controller. */
async function setup({ kind = "Deployment", controller = {}, query: options = {} }: Setup = {}) {
  const admin = loadKubeConfig(server.kubeconfigPath ?? "")
  const namespace = await freshNamespace(admin)
  const recording = RecordingKubeConfig.from(admin)
  const query = createKubernetesServiceQuery({ kubeConfig: recording, kind, ...options })
  const started =
    controller === false
      ? undefined
      : await startTestController({ kubeConfig: admin, namespace, kind, ...controller })
  onTestFinished(async () => {
    await query.close()
    await started?.close()
  })
  return { admin, namespace, query, controller: started, recording }
}

/** Subscribes to a service and keeps what it pushes. */
function subscribe(query: KubernetesServiceQuery, service: string, namespace: string) {
  const seen: ServiceQueryResponse[] = []
  const errors: Error[] = []
  const subscription = new AbortController()
  query.watch(service, namespace, (status) => seen.push(status), {
    signal: subscription.signal,
    onError: (error) => errors.push(error),
  })
  onTestFinished(() => subscription.abort())
  return { seen, errors, latest: () => seen.at(-1) }
}

const scalePath = (namespace: string, name: string, kind: ControlledKind = "Deployment") =>
  `${workloadPath(kind, namespace, name)}/scale`

describe.skipIf(server.skipped !== undefined)("against a real kube-apiserver", () => {
  describe("getReplicas", () => {
    it("reads desired replicas from spec, ready from status, labels and annotations from the workload and its pod template", async () => {
      const { admin, namespace, query } = await setup({ query: { readiness: "workload" } })
      await createWorkload(admin, namespace, "Deployment", "api", {
        replicas: 1,
        labels: { team: "a", [MIN_SCALE_LABEL]: "9" },
        annotations: { owner: "ops" },
        templateLabels: { [MIN_SCALE_LABEL]: "2", [MAX_SCALE_LABEL]: "4" },
        templateAnnotations: { "prometheus.io/scrape": "true" },
      })
      const status = await until(
        () => query.getReplicas("api", namespace),
        (s) => s.availableReplicas === 1,
        "the replica turning ready",
      )
      expect(status).toMatchObject({
        replicas: 1,
        availableReplicas: 1,
        minReplicas: 2,
        maxReplicas: 4,
      })
      expect(status.labels).toMatchObject({ team: "a", app: "api", [MIN_SCALE_LABEL]: "2" })
      expect(status.annotations).toMatchObject({ owner: "ops", "prometheus.io/scrape": "true" })
    })

    it("reads a workload whose status the server sends without its zero counts as 0 available", async () => {
      const { admin, namespace, query } = await setup({
        controller: false,
        query: { readiness: "workload" },
      })
      await createWorkload(admin, namespace, "Deployment", "idle", { replicas: 0 })
      // What the server really sends: no replica counts at all while they are zero.
      const raw = await kube(admin, "GET", workloadPath("Deployment", namespace, "idle"))
      expect(raw.status?.availableReplicas).toBeUndefined()
      expect(raw.spec.replicas).toBe(0)
      expect(await query.getReplicas("idle", namespace)).toMatchObject({
        replicas: 0,
        availableReplicas: 0,
      })
    })

    it("throws ServiceNotFoundError for a workload the API server does not have", async () => {
      const { namespace, query } = await setup({ controller: false })
      const error = await query.getReplicas("ghost", namespace).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ServiceNotFoundError)
      expect(error).toMatchObject({ service: "ghost", namespace })
    })

    it("loads credentials as the client does (KUBECONFIG) when no KubeConfig is given", async () => {
      const { admin, namespace } = await setup({ controller: false })
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      const previous = process.env.KUBECONFIG
      onTestFinished(() => {
        if (previous === undefined) delete process.env.KUBECONFIG
        else process.env.KUBECONFIG = previous
      })
      process.env.KUBECONFIG = server.kubeconfigPath
      const query = createKubernetesServiceQuery()
      expect(await query.getReplicas("api", namespace)).toMatchObject({
        replicas: 0,
        availableReplicas: 0,
      })
    })
  })

  describe("setReplicas", () => {
    it("writes the scale subresource, owned by its fieldManager (server-side field ownership)", async () => {
      const { admin, namespace, query, recording } = await setup({
        controller: false,
        query: { fieldManager: "edge-gateway" },
      })
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      await query.setReplicas("api", namespace, 3)
      const writes = recording.sent.filter((request) => request.method !== "GET")
      expect(writes.map((r) => [r.method, r.path, r.query.get("fieldManager")])).toEqual([
        ["PUT", scalePath(namespace, "api"), "edge-gateway"],
      ])
      const deployment = await kube(admin, "GET", workloadPath("Deployment", namespace, "api"))
      expect(deployment.spec.replicas).toBe(3)
      // The server records the gateway as the owner of spec.replicas, through the scale subresource.
      const owned = deployment.metadata.managedFields.find(
        (entry: { manager: string }) => entry.manager === "edge-gateway",
      )
      expect(owned).toMatchObject({ operation: "Update", subresource: "scale" })
      expect(owned.fieldsV1).toEqual({ "f:spec": { "f:replicas": {} } })

      // Another manager applying a different replica count conflicts with that ownership.
      const apply = await kubeRequest(
        admin,
        "PATCH",
        `${workloadPath("Deployment", namespace, "api")}?fieldManager=deploy-tool`,
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "api" },
          spec: { replicas: 1 },
        },
        "application/apply-patch+yaml",
      )
      expect(apply.status).toBe(409)
      expect(apply.body.message).toContain('conflict with "edge-gateway"')
      expect(apply.body.message).toContain(".spec.replicas")
    })

    it.each([3, 0])(
      "writes nothing when the workload already has the replicas asked for (%i; the server leaves a zero out of the Scale)",
      async (replicas) => {
        const { admin, namespace, query, recording } = await setup({ controller: false })
        await createWorkload(admin, namespace, "Deployment", "api", { replicas })
        const scale = await kube(admin, "GET", scalePath(namespace, "api"))
        // What the real server sends for 0: an empty spec.
        expect(scale.spec.replicas).toBe(replicas === 0 ? undefined : replicas)
        const before = scale.metadata.resourceVersion

        await query.setReplicas("api", namespace, replicas)
        expect(recording.sent.map((r) => r.method)).toEqual(["GET"])
        const after = await kube(admin, "GET", scalePath(namespace, "api"))
        expect(after.metadata.resourceVersion).toBe(before)
      },
    )

    it("rejects a negative replica count before any request", async () => {
      const { namespace, query, recording } = await setup({ controller: false })
      await expect(query.setReplicas("api", namespace, -1)).rejects.toThrow(RangeError)
      expect(recording.sent).toEqual([])
    })

    it("retries the 409 the server answers when a second writer changed the workload between its read and its write", async () => {
      const { admin, namespace, query, recording } = await setup({ controller: false })
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      let interfered = 0
      recording.beforeSend = async (request) => {
        if (request.method !== "PUT" || interfered >= 2) return
        interfered++
        // The other writer: a rollout touching the pod template, which bumps the resourceVersion.
        await kube(
          admin,
          "PATCH",
          workloadPath("Deployment", namespace, "api"),
          { spec: { template: { metadata: { annotations: { rollout: String(interfered) } } } } },
          "application/merge-patch+json",
        )
      }
      await query.setReplicas("api", namespace, 1)
      // Two writes refused with 409, each followed by a fresh read; the third went through.
      expect(recording.sent.map((r) => r.method)).toEqual([
        "GET",
        "PUT",
        "GET",
        "PUT",
        "GET",
        "PUT",
      ])
      const deployment = await kube(admin, "GET", workloadPath("Deployment", namespace, "api"))
      expect(deployment.spec.replicas).toBe(1)
      expect(deployment.spec.template.metadata.annotations).toEqual({ rollout: "2" })
    })

    it("gives up after conflictRetries conflicts with the server's 409 and its message", async () => {
      const { admin, namespace, query, recording } = await setup({
        controller: false,
        query: { conflictRetries: 2 },
      })
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      let serial = 0
      recording.beforeSend = async (request) => {
        if (request.method !== "PUT") return
        await kube(
          admin,
          "PATCH",
          workloadPath("Deployment", namespace, "api"),
          { metadata: { annotations: { touched: String(++serial) } } },
          "application/merge-patch+json",
        )
      }
      const error = await query.setReplicas("api", namespace, 1).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(KubernetesApiError)
      expect(error).toMatchObject({ status: 409, reason: "Conflict" })
      expect((error as Error).message).toContain("the object has been modified")
      expect(recording.sent.filter((r) => r.method === "PUT")).toHaveLength(2)
    })
  })

  describe("endpoints readiness (the test controller's EndpointSlices, real watches)", () => {
    it("holds until the EndpointSlice has a ready endpoint even though the Deployment reports available", async () => {
      const { admin, namespace, query, controller } = await setup({
        controller: { podReadyDelayMs: 20, endpointReadyDelayMs: 800 },
      })
      const byWorkload = createKubernetesServiceQuery({ kubeConfig: admin, readiness: "workload" })
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      await query.setReplicas("api", namespace, 1)
      await until(
        () => byWorkload.getReplicas("api", namespace),
        (s) => s.availableReplicas === 1,
        "the Deployment reporting an available replica",
      )
      // The pod is in the slice, not ready yet: traffic could not reach it.
      expect(controller?.writes.filter((w) => w.what === "slice").at(-1)).toMatchObject({
        total: 1,
        ready: 0,
      })
      expect((await query.getReplicas("api", namespace)).availableReplicas).toBe(0)
      await until(
        () => query.getReplicas("api", namespace),
        (s) => s.availableReplicas === 1,
        "the endpoint turning ready",
      )
    })

    it("releases a cold start through the watch, without a poll tick, only once the endpoint is ready", async () => {
      const { admin, namespace, query, controller } = await setup({
        controller: { podReadyDelayMs: 50, endpointReadyDelayMs: 300 },
      })
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      const scaler = createFunctionScaler({
        serviceQuery: query,
        functionPollInterval: 600_000,
        timeout: 10_000,
      })
      onTestFinished(() => scaler.close())
      const result = await scaler.scale("api", namespace)
      // Checked in the same tick as the release: the ready slice had been written by then.
      expect(controller?.writes.at(-1)).toMatchObject({ what: "slice", total: 1, ready: 1 })
      expect(result).toMatchObject({ outcome: "ready", coldStart: true })
      // Pods ready after 50 ms, endpoints 300 ms later; though the poll interval is ten minutes.
      expect(result.durationMs).toBeGreaterThanOrEqual(350)
      expect(result.durationMs).toBeLessThan(3_000)
    })
  })

  describe("watch", () => {
    it("resumes a watch the server ended at its timeout from the last resourceVersion, missing no event and listing once", async () => {
      // Each watch request ends after 1 s; polling is a minute away, so only resumed watches deliver.
      const { admin, namespace, query, recording } = await setup({
        controller: false,
        query: { readiness: "workload", watchTimeoutSeconds: 1, pollIntervalMs: 60_000 },
      })
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      const { seen, latest } = subscribe(query, "api", namespace)
      await until(latest, (s) => s !== undefined, "the first pushed status")
      // Writes spread over about 3.5 s: several watch requests end and resume in between.
      for (let replicas = 1; replicas <= 7; replicas++) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        await kube(
          admin,
          "PATCH",
          scalePath(namespace, "api"),
          { spec: { replicas } },
          "application/merge-patch+json",
        )
      }
      await until(latest, (s) => s?.replicas === 7, "the last write pushed")
      expect(seen.map((s) => s.replicas)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
      const lists = recording.sent.filter(
        (r) => r.path === workloadPath("Deployment", namespace) && r.method === "GET",
      )
      expect(lists).toHaveLength(1)
    })
  })

  describe("watch fallbacks and errors", () => {
    it("falls back to polling when the watch is forbidden, and reports why", async () => {
      const { admin, namespace } = await setup({ controller: false })
      const controller = await startTestController({ kubeConfig: admin, namespace })
      onTestFinished(() => controller.close())
      // The restricted user may do everything the gateway needs but watch Deployments.
      await grant(admin, namespace, "restricted", [
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list"] },
        { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get", "update"] },
        {
          apiGroups: ["discovery.k8s.io"],
          resources: ["endpointslices"],
          verbs: ["list", "watch"],
        },
      ])
      const failures: { error: Error; source: string }[] = []
      const query = createKubernetesServiceQuery({
        kubeConfig: loadKubeConfig(server.kubeconfigPath ?? "", "restricted"),
        pollIntervalMs: 30,
        onWatchError: (error, context) => failures.push({ error, source: context.source }),
      })
      onTestFinished(() => query.close())
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      const { latest, errors } = subscribe(query, "api", namespace)
      await query.setReplicas("api", namespace, 1)
      await until(latest, (s) => s?.availableReplicas === 1, "the ready state found by polling")
      const forbidden = failures.find((f) => f.source === "changes")?.error
      expect(forbidden).toBeInstanceOf(KubernetesPermissionError)
      expect(forbidden).toMatchObject({ status: 403, verb: "watch", resource: "deployments" })
      expect(forbidden?.message).toContain(`watch deployments in namespace ${namespace}`)
      // The watch is the one thing failing: the service's own reads succeed.
      expect(errors).toEqual([])
    })

    it("tells the watchers through onError when a workload's scale labels cannot be read", async () => {
      const reports: { error: Error; context: WatchErrorContext }[] = []
      const { admin, namespace, query } = await setup({
        controller: false,
        query: {
          readiness: "workload",
          onWatchError: (error, context) => reports.push({ error, context }),
        },
      })
      await createWorkload(admin, namespace, "Deployment", "api", {
        replicas: 0,
        templateLabels: { [SCALING_FACTOR_LABEL]: "0" },
      })
      const { errors, seen } = subscribe(query, "api", namespace)
      await until(
        () => errors.length,
        (n) => n > 0,
        "onError",
      )
      expect(errors[0]).toBeInstanceOf(RangeError)
      expect(reports).toContainEqual({
        error: errors[0],
        context: { namespace, service: "api", source: "read" },
      })
      expect(seen).toEqual([])
    })

    it("says the API server rejected the credentials (401) for a token it does not know", async () => {
      const admin = loadKubeConfig(server.kubeconfigPath ?? "")
      const query = createKubernetesServiceQuery({
        kubeConfig: kubeConfigWithToken(admin, "not-a-token-of-this-server"),
      })
      const unauthorized = await query.getReplicas("api", "default").catch((e: unknown) => e)
      expect(unauthorized).toBeInstanceOf(KubernetesPermissionError)
      expect(unauthorized).toMatchObject({ status: 401 })
      expect((unauthorized as Error).message).toContain("rejected the gateway's credentials")
    })

    it("hands the scaler a provider error (not a missing service) when scaling is forbidden", async () => {
      const { admin, namespace } = await setup({ controller: false })
      await grant(admin, namespace, "restricted", [
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get"] },
        {
          apiGroups: ["discovery.k8s.io"],
          resources: ["endpointslices"],
          verbs: ["list", "watch"],
        },
      ])
      await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
      const query = createKubernetesServiceQuery({
        kubeConfig: loadKubeConfig(server.kubeconfigPath ?? "", "restricted"),
      })
      const scaler = createFunctionScaler({
        serviceQuery: query,
        setScaleRetries: 1,
        timeout: 5_000,
      })
      onTestFinished(async () => {
        scaler.close()
        await query.close()
      })
      const result = await scaler.scale("api", namespace)
      expect(result).toMatchObject({ outcome: "backend-error", found: true })
      expect(result.error).toBeInstanceOf(KubernetesPermissionError)
      expect(result.error).toMatchObject({ verb: "update", resource: "deployments/scale" })
    })
  })

  describe("StatefulSet kind", () => {
    it("scales a StatefulSet through its scale subresource and reads its ready replicas and endpoints", async () => {
      const { admin, namespace, query, recording } = await setup({ kind: "StatefulSet" })
      await createWorkload(admin, namespace, "StatefulSet", "db", {
        replicas: 0,
        templateLabels: { [MAX_SCALE_LABEL]: "3" },
      })
      const { latest } = subscribe(query, "db", namespace)
      await query.setReplicas("db", namespace, 2)
      expect(recording.sent.find((r) => r.method === "PUT")?.path).toBe(
        scalePath(namespace, "db", "StatefulSet"),
      )
      await until(latest, (s) => s?.availableReplicas === 2, "both endpoints ready")
      expect(await query.getReplicas("db", namespace)).toMatchObject({
        replicas: 2,
        availableReplicas: 2,
        maxReplicas: 3,
      })
      await query.setReplicas("db", namespace, 0)
      await until(latest, (s) => s?.replicas === 0 && s.availableReplicas === 0, "scaled to zero")
    })
  })
})

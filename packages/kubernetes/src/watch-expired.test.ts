// A watch resumed from a resourceVersion the REAL kube-apiserver no longer has (410 Gone). The
// server's watch cache keeps recent events for minutes, so the one way to make a version too old
// on demand is the real-world one: the API server restarts (an upgrade) while the gateway holds a
// version, and its fresh cache starts after it. That restart would disturb the other test files,
// so this file starts a server of its own.
import type { ServiceQueryResponse } from "@scale-from-zero/core"
import {
  freshNamespace,
  kube,
  kubeConfigWithToken,
  loadKubeConfig,
  RecordingKubeConfig,
  type StartedKubeApiServer,
  serviceAccountToken,
  startGatedProxy,
  startKubeApiServer,
} from "@scale-from-zero/test-kit/kube-apiserver"
import { useKubeApiServer } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import { createWorkload, workloadPath } from "@scale-from-zero/test-kit/kube-controller"
import { describe, expect, it, onTestFinished } from "vitest"
import { createKubernetesServiceQuery } from "./index.js"

const skipped = useKubeApiServer().skipped

async function until<T>(
  read: () => T,
  done: (value: T) => boolean,
  what: string,
  withinMs: number,
) {
  const deadline = Date.now() + withinMs
  while (!done(read())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${withinMs}ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe.skipIf(skipped !== undefined)("against a real kube-apiserver that restarts", () => {
  it("lists again when its resumed watch is answered 410 Gone (too old resource version), and catches up with what changed meanwhile", async () => {
    const server: StartedKubeApiServer = await startKubeApiServer()
    onTestFinished(() => server.stop())
    let admin = loadKubeConfig(server.kubeconfigPath)
    const namespace = await freshNamespace(admin)
    const elsewhere = await freshNamespace(admin)
    await createWorkload(admin, namespace, "Deployment", "api", { replicas: 0 })
    // The gateway signs in as a ServiceAccount: its token outlives the restart (the static
    // admin token of the kubeconfig does not).
    const token = await serviceAccountToken(admin, namespace, "gateway")
    await kube(
      admin,
      "POST",
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
      {
        metadata: { name: "gateway" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: "cluster-admin",
        },
        subjects: [{ kind: "ServiceAccount", name: "gateway", namespace }],
      },
    )
    // The gateway reaches the server through a proxy, as through a load balancer.
    const proxy = await startGatedProxy(server.port)
    onTestFinished(() => proxy.close())
    const gateway = kubeConfigWithToken(admin, token)
    const cluster = gateway.getCurrentCluster()
    if (cluster === null) throw new Error("no cluster")
    gateway.clusters[0] = { ...cluster, server: `https://127.0.0.1:${proxy.port}` }
    const recording = RecordingKubeConfig.from(gateway)
    // A poll a minute away: only the watch can carry the change.
    const watchFailures: Error[] = []
    const query = createKubernetesServiceQuery({
      kubeConfig: recording,
      readiness: "workload",
      pollIntervalMs: 60_000,
      onWatchError: (error) => watchFailures.push(error),
    })
    onTestFinished(() => query.close())
    const seen: ServiceQueryResponse[] = []
    const errors: Error[] = []
    const subscription = new AbortController()
    onTestFinished(() => subscription.abort())
    query.watch("api", namespace, (status) => seen.push(status), {
      signal: subscription.signal,
      onError: (error) => errors.push(error),
    })
    await until(
      () => seen.length,
      (n) => n > 0,
      "the first pushed status",
      5_000,
    )
    const lists = () =>
      recording.sent.filter((r) => r.path === workloadPath("Deployment", namespace)).length
    expect(lists()).toBe(1)

    // A write the gateway's watch does not see (another namespace) moves the cluster past its version.
    await createWorkload(admin, elsewhere, "Deployment", "other", { replicas: 0 })
    proxy.hold()
    await server.restart()
    admin = loadKubeConfig(server.kubeconfigPath)
    // Changed while the gateway's resumed watch waits at the proxy.
    await kube(
      admin,
      "PATCH",
      `${workloadPath("Deployment", namespace, "api")}/scale`,
      { spec: { replicas: 1 } },
      "application/merge-patch+json",
    )
    proxy.open()

    await until(
      () => seen.at(-1)?.replicas,
      (replicas) => replicas === 1,
      "the change after the re-list",
      15_000,
    )
    // The resumed watch was refused as too old and the collection listed again, not polled:
    // the watch never failed (which would have re-opened it through the provider kit).
    expect(lists()).toBe(2)
    expect(watchFailures).toEqual([])
    expect(errors).toEqual([])
  }, 60_000)
})

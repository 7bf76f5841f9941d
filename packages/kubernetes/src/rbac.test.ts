// RBAC for real: the Role of examples/kubernetes/gateway-rbac.yaml applied to a REAL kube-apiserver
// (which authorizes with RBAC), the provider signed in as the ServiceAccount it is bound to.
// Enough: a watched cold start and a scale to zero. Minimal: each verb taken out of the Role
// makes the provider fail with its own error naming exactly that verb and resource.
import { readFile } from "node:fs/promises"
import {
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  type V1Role,
} from "@kubernetes/client-node"
import { createFunctionScaler, type ServiceQueryResponse } from "@scale-from-zero/core"
import {
  freshNamespace,
  kubeConfigWithToken,
  loadKubeConfig,
  serviceAccountToken,
} from "@scale-from-zero/test-kit/kube-apiserver"
import { useKubeApiServer } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import { startTestController } from "@scale-from-zero/test-kit/kube-controller"
import { describe, expect, it, onTestFinished } from "vitest"
import { createKubernetesServiceQuery, KubernetesPermissionError } from "./index.js"

const server = useKubeApiServer()

const example = async (file: string): Promise<KubernetesObject[]> =>
  loadAllYaml(
    await readFile(new URL(`../../../examples/kubernetes/${file}`, import.meta.url), "utf8"),
  )

/**
 * The example's ServiceAccount, Role and RoleBinding and its `hello` Deployment, moved into fresh
 * namespaces (the example's `gateway` and `apps`), with `edit` applied to the Role's rules first.
 */
async function applyExample(edit: (role: V1Role) => void = () => {}) {
  const admin = loadKubeConfig(server.kubeconfigPath ?? "")
  const gateway = await freshNamespace(admin, "gateway")
  const apps = await freshNamespace(admin, "apps")
  const moved = (namespace: string | undefined) => (namespace === "gateway" ? gateway : apps)
  const objects = [...(await example("gateway-rbac.yaml")), ...(await example("hello.yaml"))]
  const client = KubernetesObjectApi.makeApiClient(admin)
  let serviceAccount = ""
  for (const object of objects) {
    object.metadata = { ...object.metadata, namespace: moved(object.metadata?.namespace) }
    if (object.kind === "ServiceAccount") serviceAccount = object.metadata.name ?? ""
    if (object.kind === "Role") edit(object as V1Role)
    if (object.kind === "RoleBinding") {
      for (const subject of (object as { subjects: { namespace?: string }[] }).subjects) {
        subject.namespace = moved(subject.namespace)
      }
    }
    await client.create(object)
  }
  const token = await serviceAccountToken(admin, gateway, serviceAccount, false)
  const controller = await startTestController({
    kubeConfig: admin,
    namespace: apps,
    podReadyDelayMs: 20,
    endpointReadyDelayMs: 20,
  })
  onTestFinished(() => controller.close())
  return { admin, apps, gatewayConfig: kubeConfigWithToken(admin, token, serviceAccount) }
}

describe.skipIf(server.skipped !== undefined)("RBAC on a real kube-apiserver", () => {
  it("the example's Role is enough for a watched cold start, reads and a scale to zero", async () => {
    const { apps, gatewayConfig } = await applyExample()
    const watchFailures: Error[] = []
    const query = createKubernetesServiceQuery({
      kubeConfig: gatewayConfig,
      onWatchError: (error) => watchFailures.push(error),
    })
    // Ten minutes between polls: only the watch (under the Role) can release the request.
    const scaler = createFunctionScaler({
      serviceQuery: query,
      functionPollInterval: 600_000,
      timeout: 5_000,
    })
    onTestFinished(async () => {
      scaler.close()
      await query.close()
    })
    expect(await scaler.scale("hello", apps)).toMatchObject({ outcome: "ready", coldStart: true })
    await query.setReplicas("hello", apps, 0)
    expect(await query.getReplicas("hello", apps)).toMatchObject({
      replicas: 0,
      minReplicas: 1,
      maxReplicas: 3,
    })
    expect(watchFailures).toEqual([])
  })

  const removals: { resource: string; verb: string; group: string }[] = [
    { resource: "deployments", verb: "get", group: "apps" },
    { resource: "deployments", verb: "list", group: "apps" },
    { resource: "deployments", verb: "watch", group: "apps" },
    { resource: "deployments/scale", verb: "get", group: "apps" },
    { resource: "deployments/scale", verb: "update", group: "apps" },
    { resource: "endpointslices", verb: "list", group: "discovery.k8s.io" },
    { resource: "endpointslices", verb: "watch", group: "discovery.k8s.io" },
  ]

  it("the example's Role holds exactly these rules (the cases below take each one out)", async () => {
    const role = (await example("gateway-rbac.yaml")).find((o) => o.kind === "Role") as V1Role
    const granted = (role.rules ?? []).flatMap((rule) =>
      (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${verb} ${resource}`)),
    )
    expect(granted.sort()).toEqual(removals.map((r) => `${r.verb} ${r.resource}`).sort())
  })

  it.each(removals)(
    "without $verb on $resource the provider fails with its own error naming them",
    async ({ resource, verb, group }) => {
      const { apps, gatewayConfig } = await applyExample((role) => {
        for (const rule of role.rules ?? []) {
          if (rule.resources?.includes(resource)) rule.verbs = rule.verbs.filter((v) => v !== verb)
        }
        role.rules = (role.rules ?? []).filter((rule) => rule.verbs.length > 0)
      })
      const watchFailures: Error[] = []
      const query = createKubernetesServiceQuery({
        kubeConfig: gatewayConfig,
        pollIntervalMs: 60_000,
        onWatchError: (error, context) => {
          if (context.source === "changes") watchFailures.push(error)
        },
      })
      onTestFinished(() => query.close())

      // Everything a gateway does: read, watch, scale up.
      const failures: unknown[] = []
      await query.getReplicas("hello", apps).catch((error: unknown) => failures.push(error))
      const pushed: ServiceQueryResponse[] = []
      const subscription = new AbortController()
      onTestFinished(() => subscription.abort())
      query.watch("hello", apps, (status) => pushed.push(status), {
        signal: subscription.signal,
        onError: () => {},
      })
      await query.setReplicas("hello", apps, 1).catch((error: unknown) => failures.push(error))
      // The watch either synced (and pushed) or failed.
      const deadline = Date.now() + 5_000
      while (pushed.length === 0 && watchFailures.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      failures.push(...watchFailures)

      expect(failures.length).toBeGreaterThan(0)
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(KubernetesPermissionError)
        expect(failure).toMatchObject({ status: 403, verb, resource, group, namespace: apps })
        expect((failure as Error).message).toContain(
          `grant the verb "${verb}" on "${resource}" (apiGroup "${group}")`,
        )
      }
    },
  )
})

import { readFile } from "node:fs/promises"
import { loadAllYaml, type V1Role } from "@kubernetes/client-node"
import { createFunctionScaler } from "@scale-from-zero/core"
import {
  type PolicyRule,
  startKubeApiSimulator,
} from "@scale-from-zero/test-kit/kube-api-simulator"
import { expect, it, onTestFinished } from "vitest"
import { createKubernetesServiceQuery } from "./index.js"

const example = (file: string) =>
  readFile(new URL(`../../../examples/kubernetes/${file}`, import.meta.url), "utf8")

it("the example's minimal Role grants everything a watched cold start and a scale to zero need", async () => {
  const role = loadAllYaml(await example("gateway-rbac.yaml")).find(
    (object): object is V1Role => object.kind === "Role",
  )
  expect(role?.metadata?.namespace).toBe("apps")
  const rules: PolicyRule[] = (role?.rules ?? []).map((rule) => ({
    apiGroups: rule.apiGroups ?? [],
    resources: rule.resources ?? [],
    verbs: rule.verbs,
  }))

  const simulator = await startKubeApiSimulator({ podReadyDelayMs: 20, endpointReadyDelayMs: 20 })
  const query = createKubernetesServiceQuery({ kubeConfig: simulator.kubeConfig() })
  const scaler = createFunctionScaler({ serviceQuery: query, timeout: 5_000 })
  onTestFinished(async () => {
    scaler.close()
    await query.close()
    await simulator.close()
  })
  simulator.enforceRules(rules)
  const hello = loadAllYaml(await example("hello.yaml")).find(
    (object) => object.kind === "Deployment",
  )
  simulator.addWorkload("Deployment", "apps", "hello", {
    replicas: hello.spec.replicas,
    templateLabels: hello.spec.template.metadata.labels,
  })

  const result = await scaler.scale("hello", "apps")
  expect(result).toMatchObject({ available: true, coldStart: true })
  await query.setReplicas("hello", "apps", 0)
  expect(await query.getReplicas("hello", "apps")).toMatchObject({
    replicas: 0,
    minReplicas: 1,
    maxReplicas: 3,
  })
  expect(simulator.requests.filter((request) => request.status >= 400)).toEqual([])
  // The watches ran under the Role too.
  expect(simulator.requests.some((request) => request.query.watch === "true")).toBe(true)

  // And the Role is what it grants: without it, the same scale-up is forbidden.
  simulator.enforceRules(rules.filter((rule) => !rule.resources?.includes("deployments/scale")))
  await expect(query.setReplicas("hello", "apps", 1)).rejects.toThrow(
    "may not get deployments/scale in namespace apps",
  )
})

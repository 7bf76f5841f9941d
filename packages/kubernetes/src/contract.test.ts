// The ServiceQuery contract against a REAL kube-apiserver; the test controller plays the
// deployment, statefulset and endpoint-slice controllers the server does not run.
import { freshNamespace, kube, loadKubeConfig } from "@scale-from-zero/test-kit/kube-apiserver"
import { useKubeApiServer } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import {
  createWorkload,
  startTestController,
  workloadPath,
} from "@scale-from-zero/test-kit/kube-controller"
import { runServiceQueryContract } from "@scale-from-zero/test-kit/service-query-contract"
import { describe } from "vitest"
import { createKubernetesServiceQuery, type Readiness, type WorkloadKind } from "./index.js"

const READY_WITHIN_MS = 3_000
const server = useKubeApiServer()

describe.skipIf(server.skipped !== undefined)("against a real kube-apiserver", () => {
  for (const [kind, readiness] of [
    ["Deployment", "endpoints"],
    ["StatefulSet", "endpoints"],
    ["Deployment", "workload"],
  ] as [WorkloadKind, Readiness][]) {
    runServiceQueryContract(
      `kubernetes ${kind} (${readiness} readiness) on kube-apiserver`,
      async () => {
        const admin = loadKubeConfig(server.kubeconfigPath ?? "")
        const namespace = await freshNamespace(admin, "contract")
        const controller = await startTestController({
          kubeConfig: admin,
          namespace,
          kind,
          podReadyDelayMs: 30,
          endpointReadyDelayMs: 30,
        })
        const query = createKubernetesServiceQuery({ kubeConfig: admin, kind, readiness })
        return {
          query,
          namespace,
          readyWithinMs: READY_WITHIN_MS,
          async addService(name, namespace, { replicas, labels }) {
            // Scale labels on the pod template, where faas-netes puts them.
            await createWorkload(admin, namespace, kind, name, {
              replicas,
              ...(labels && { templateLabels: labels }),
            })
            const deadline = Date.now() + READY_WITHIN_MS
            while ((await query.getReplicas(name, namespace)).availableReplicas < replicas) {
              if (Date.now() > deadline) throw new Error(`${name} did not start`)
              await new Promise((resolve) => setTimeout(resolve, 10))
            }
          },
          async removeService(name, namespace) {
            await kube(admin, "DELETE", workloadPath(kind, namespace, name))
          },
          async cleanup() {
            // The suite's last test has closed the query already; closing again is harmless.
            await query.close()
            await controller.close()
          },
        }
      },
      { watch: true },
    )
  }
})

import { startKubeApiSimulator } from "@scale-from-zero/test-kit/kube-api-simulator"
import { runServiceQueryContract } from "@scale-from-zero/test-kit/service-query-contract"
import { createKubernetesServiceQuery, type Readiness, type WorkloadKind } from "./index.js"

const READY_WITHIN_MS = 2_000

for (const [kind, readiness] of [
  ["Deployment", "endpoints"],
  ["StatefulSet", "endpoints"],
  ["Deployment", "workload"],
] as [WorkloadKind, Readiness][]) {
  runServiceQueryContract(
    `kubernetes ${kind} (${readiness} readiness) against the Kubernetes API simulator`,
    async () => {
      const simulator = await startKubeApiSimulator({
        podReadyDelayMs: 30,
        endpointReadyDelayMs: 30,
      })
      const query = createKubernetesServiceQuery({
        kubeConfig: simulator.kubeConfig(),
        kind,
        readiness,
      })
      return {
        query,
        namespace: "contract",
        readyWithinMs: READY_WITHIN_MS,
        async addService(name, namespace, { replicas, labels }) {
          // Scale labels on the pod template, where faas-netes puts them.
          simulator.addWorkload(kind, namespace, name, {
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
          simulator.deleteWorkload(kind, namespace, name)
        },
        async cleanup() {
          // The suite's last test has closed the query already; closing again is harmless.
          await query.close()
          await simulator.close()
        },
      }
    },
    { watch: true },
  )
}

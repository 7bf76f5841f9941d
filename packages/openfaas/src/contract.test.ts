// The ServiceQuery contract against the REAL faas-netes (OpenFaaS Community Edition, on a real
// kube-apiserver). CE cannot scale to zero: a cold function is one at 1 replica with none
// available. No kubelet runs, so the subject marks a function's Deployment available, as the
// deployment controller would, a moment after it was asked to scale up.
import type { ServiceQuery } from "@scale-from-zero/core"
import { ZERO_DURATION_LABEL, ZERO_SCALE_LABEL } from "@scale-from-zero/core"
import { deployFunction, kube, loadKubeConfig } from "@scale-from-zero/test-kit/kube-apiserver"
import { useFaasNetes } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import { workloadPath, writeWorkloadStatus } from "@scale-from-zero/test-kit/kube-controller"
import { runServiceQueryContract } from "@scale-from-zero/test-kit/service-query-contract"
import { describe } from "vitest"
import { createOpenFaaSServiceQuery } from "./index.js"

const faasNetes = useFaasNetes()
const STARTUP_MS = 150

describe.skipIf(faasNetes.skipped !== undefined)("against a real faas-netes", () => {
  runServiceQueryContract(
    "openfaas on faas-netes (Community Edition)",
    async () => {
      const { url = "", basicAuth, kubeconfigPath = "" } = faasNetes
      if (basicAuth === undefined) throw new Error("faas-netes did not start")
      const admin = loadKubeConfig(kubeconfigPath)
      const timers = new Set<ReturnType<typeof setTimeout>>()
      const markAvailable = (name: string, namespace: string, replicas: number) =>
        writeWorkloadStatus(admin, namespace, "Deployment", name, {
          total: replicas,
          ready: replicas,
        })
      /** Its pods turning available a moment later, as the deployment controller would report. */
      const availableSoon = (name: string, namespace: string, replicas: number) => {
        const timer = setTimeout(() => {
          timers.delete(timer)
          void markAvailable(name, namespace, replicas).catch(() => {})
        }, STARTUP_MS)
        timers.add(timer)
      }
      const query = createOpenFaaSServiceQuery({ url, basicAuth, timeoutMs: 5_000 })
      // The nudge: a scale-up is followed by its pods turning available.
      const nudged: ServiceQuery = Object.create(query, {
        setReplicas: {
          value: async (...args: Parameters<ServiceQuery["setReplicas"]>) => {
            await query.setReplicas(...args)
            const [name, namespace, count] = args
            if (count > 0) availableSoon(name, namespace, count)
          },
        },
      })
      return {
        query: nudged,
        namespace: faasNetes.namespace ?? "openfaas-fn",
        readyWithinMs: 2_000,
        async addService(name, namespace, { replicas, labels = {} }) {
          // CE refuses to deploy with the scale-to-zero labels; a user then puts them on the
          // Deployment's pod template with the Kubernetes API, where faas-netes reads labels.
          const { [ZERO_SCALE_LABEL]: zero, [ZERO_DURATION_LABEL]: duration, ...accepted } = labels
          await deployFunction(url, basicAuth, namespace, { service: name, labels: accepted })
          if (zero !== undefined || duration !== undefined) {
            await kube(
              admin,
              "PATCH",
              workloadPath("Deployment", namespace, name),
              { spec: { template: { metadata: { labels } } } },
              "application/merge-patch+json",
            )
          }
          if (replicas === 1) await markAvailable(name, namespace, 1)
          // faas-netes answers from its informer cache: wait until it shows what was written.
          const deadline = Date.now() + 5_000
          for (;;) {
            const status = await query.getReplicas(name, namespace)
            const labelled = Object.entries(labels).every(([k, v]) => status.labels?.[k] === v)
            if (status.availableReplicas === replicas && labelled) return
            if (Date.now() > deadline) throw new Error(`faas-netes did not show ${name} as set up`)
            await new Promise((resolve) => setTimeout(resolve, 10))
          }
        },
        async startColdService(name, namespace) {
          availableSoon(name, namespace, 1)
        },
        async cleanup() {
          for (const timer of timers) clearTimeout(timer)
        },
      }
    },
    { scaleToZero: false },
  )
})

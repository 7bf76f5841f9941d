import { startFaasProviderSimulator } from "@scale-from-zero/test-kit/faas-provider-simulator"
import { runServiceQueryContract } from "@scale-from-zero/test-kit/service-query-contract"
import { createOpenFaaSServiceQuery } from "./index.js"

const basicAuth = { user: "admin", password: "contract-secret" }

for (const scaleStatus of [202, 200] as const) {
  const provider = scaleStatus === 202 ? "faas-netes" : "faasd"
  runServiceQueryContract(
    `openfaas against the faas-provider simulator (scale answers ${scaleStatus}, as ${provider})`,
    async () => {
      const simulator = await startFaasProviderSimulator({
        basicAuth,
        startupDelayMs: 150,
        scaleStatus,
      })
      return {
        query: createOpenFaaSServiceQuery({ url: simulator.url, basicAuth, timeoutMs: 2_000 }),
        namespace: "openfaas-fn",
        readyWithinMs: 1_000,
        async addService(name, namespace, { replicas, labels }) {
          simulator.addFunction(name, namespace, { replicas, ...(labels && { labels }) })
        },
        async cleanup() {
          await simulator.close()
        },
      }
    },
  )
}

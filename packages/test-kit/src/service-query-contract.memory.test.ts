import { MAX_SCALE_LABEL, MIN_SCALE_LABEL, SCALING_FACTOR_LABEL } from "@scale-from-zero/core"
import {
  createMemoryServiceQuery,
  type MemoryServiceDefinition,
} from "@scale-from-zero/core/testing"
import { runServiceQueryContract } from "./service-query-contract.js"

// The suite checked against core's reference backend, with and without push readiness.
for (const watch of [true, false]) {
  runServiceQueryContract(
    `core memory service query (watch ${watch ? "on" : "off"})`,
    async () => {
      const query = createMemoryServiceQuery({ startupDelayMs: 50, watch })
      return {
        query,
        namespace: "openfaas-fn",
        readyWithinMs: 500,
        async addService(name, namespace, { replicas, labels }) {
          // The memory backend takes its limits as fields, not labels: set both, as a provider would read them.
          const definition: MemoryServiceDefinition = { replicas, ...(labels && { labels }) }
          const min = labels?.[MIN_SCALE_LABEL]
          const max = labels?.[MAX_SCALE_LABEL]
          const factor = labels?.[SCALING_FACTOR_LABEL]
          if (min !== undefined) definition.minReplicas = Number(min)
          if (max !== undefined) definition.maxReplicas = Number(max)
          if (factor !== undefined) definition.scalingFactor = Number(factor)
          query.addService(name, namespace, definition)
        },
        async removeService(name, namespace) {
          query.removeService(name, namespace)
        },
        async cleanup() {
          await query.close()
        },
      }
    },
    { watch },
  )
}

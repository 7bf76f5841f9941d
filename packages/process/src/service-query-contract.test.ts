import { runServiceQueryContract } from "@scale-from-zero/test-kit/service-query-contract"
import { serverService, until } from "../test/helpers.js"
import { createProcessServiceQuery } from "./index.js"

runServiceQueryContract(
  "process",
  async () => {
    const query = createProcessServiceQuery({ stdio: "ignore" })
    return {
      query,
      namespace: query.namespace,
      readyWithinMs: 5000,
      async addService(name, _namespace, { replicas, labels }) {
        query.addService(name, serverService({}, { replicas, ...(labels && { labels }) }))
        if (replicas > 0) await until(query, name, (status) => status.availableReplicas >= replicas)
      },
      removeService: (name, namespace) => query.removeService(name, namespace),
      cleanup: () => query.close(),
    }
  },
  { watch: true },
)

import {
  api,
  createContainer,
  freePort,
  healthNudger,
  PODMAN_SOCKET,
  removeContainers,
  requireEngine,
  uniqueName,
} from "@scale-from-zero/test-kit/podman"
import { runServiceQueryContract } from "@scale-from-zero/test-kit/service-query-contract"
import { describe } from "vitest"
import { createDockerServiceQuery, NAMESPACE_LABEL, SERVICE_LABEL } from "./docker-service-query.js"

const skipReason = await requireEngine()

describe.skipIf(skipReason !== undefined)("docker provider", () => {
  runServiceQueryContract(
    "docker on podman (httpd containers with a healthcheck)",
    async () => {
      const query = createDockerServiceQuery({ socketPath: PODMAN_SOCKET, stopTimeoutSeconds: 2 })
      // Marks this run's containers, so the health nudger touches no one else's.
      const runLabel = uniqueName("contract")
      const nudger = healthNudger(`sfz-contract-run=${runLabel}`)
      const created: string[] = []
      return {
        query,
        namespace: "contract",
        readyWithinMs: 5_000,
        async addService(name, namespace, { replicas, labels }) {
          const port = await freePort()
          const containerName = `${name}-1`
          created.push(containerName)
          await createContainer({
            name: containerName,
            port,
            labels: {
              ...labels,
              [SERVICE_LABEL]: name,
              [NAMESPACE_LABEL]: namespace,
              "sfz-contract-run": runLabel,
            },
            healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}/`],
          })
          if (replicas === 0) return
          await api("POST", `/containers/${containerName}/start`)
          const deadline = Date.now() + 5_000
          while ((await query.getReplicas(name, namespace)).availableReplicas === 0) {
            if (Date.now() > deadline) throw new Error(`${containerName} was not healthy within 5s`)
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
        },
        async removeService(name) {
          await removeContainers([`${name}-1`])
        },
        async cleanup() {
          await nudger.stop()
          await query.close() // closed by the suite's last test already: a no-op then
          await removeContainers(created)
        },
      }
    },
    { watch: true },
  )
})

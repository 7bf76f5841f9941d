import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { getRequestListener } from "@hono/node-server"
import { runTelemetryContract } from "@scale-from-zero/test-kit/adapter-telemetry"
import { createContractApp } from "../test/contract-app.js"

runTelemetryContract("Hono on @hono/node-server", {
  async start(scenario, wrap) {
    const contract = createContractApp(scenario)
    const server = createServer(wrap(getRequestListener(contract.app.fetch)))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${port}`,
      stats: async () => contract.stats(),
      async close() {
        contract.close()
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
      },
    }
  },
})

import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import { runAdapterContract } from "@scale-from-zero/test-kit/adapter-contract"
import { createContractApp } from "../test/contract-app.js"

runAdapterContract("Hono on @hono/node-server", {
  async start(scenario) {
    const contract = createContractApp(scenario)
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const listening = serve({ fetch: contract.app.fetch, hostname: "127.0.0.1", port: 0 }, () =>
        resolve(listening),
      )
    })
    const { port } = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${port}`,
      stats: async () => contract.stats(),
      scaleExternally: contract.scaleExternally,
      sleep: contract.sleep,
      closeMiddleware: contract.closeMiddleware,
      async close() {
        contract.close()
        if ("closeAllConnections" in server) server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
      },
    }
  },
})

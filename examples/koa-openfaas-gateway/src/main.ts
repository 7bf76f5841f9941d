import type { AddressInfo } from "node:net"
import { createGateway } from "./app.js"
import { readGatewayConfig } from "./config.js"

const config = readGatewayConfig(process.env)
const { app, gate } = createGateway(config, (event) => {
  console.log(JSON.stringify({ time: new Date().toISOString(), ...event }, errorToJson))
})

const server = app.listen(config.port, () => {
  const { port } = server.address() as AddressInfo
  const auth = config.basicAuth ? ` as ${config.basicAuth.user}` : " without credentials"
  console.log(`gateway on :${port} → ${config.providerUrl}${auth}`)
})

const shutdown = () => {
  gate.close()
  server.close(() => process.exit(0))
  // Held keep-alive connections must not keep a stopping gateway alive.
  setTimeout(() => process.exit(0), 5_000).unref()
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)

function errorToJson(_key: string, value: unknown) {
  return value instanceof Error ? { name: value.name, message: value.message } : value
}

import { createGateway } from "./app.js"
import { readGatewayConfig } from "./config.js"
import { serve } from "./serve.js"

const config = readGatewayConfig(process.env)

serve(
  config,
  (shared) => {
    const { app, gate } = createGateway(config, logEvent, shared)
    return { app, close: () => gate.close() }
  },
  ({ port, pids }) => {
    const auth = config.basicAuth ? ` as ${config.basicAuth.user}` : " without credentials"
    const workers = config.workers > 1 ? ` (${pids.length} workers: ${pids.join(", ")})` : ""
    console.log(`gateway on :${port} → ${config.providerUrl}${auth}${workers}`)
  },
)

function logEvent(event: object) {
  console.log(JSON.stringify({ time: new Date().toISOString(), ...event }, errorToJson))
}

function errorToJson(_key: string, value: unknown) {
  return value instanceof Error ? { name: value.name, message: value.message } : value
}

// `npm start`: gateway A on PORT (default 8080) and gateway B on PORT + 1, sharing REDIS_URL.
import { log, readStartOptions } from "@scale-from-zero/example-express-gateway/start-options"
import { createGateways } from "./gateways.js"

// Gateway B listens on PORT + 1.
const { port, idleAfter, idleAfterMs } = readStartOptions({ idleAfter: "10s", ports: 2 })
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

const gateways = createGateways({ redisUrl, idleAfterMs, log })
const servers = gateways.instances.map((instance, i) => {
  // Port 0 (as the tests use) picks a free port for each.
  const server = instance.app.listen(port === 0 ? 0 : port + i, "127.0.0.1")
  server.on("error", (error) => {
    console.error(`gateway ${instance.id}: cannot listen: ${error.message}`)
    process.exit(1)
  })
  return server
})
await Promise.all(
  servers.map((server) => new Promise((resolve) => server.once("listening", resolve))),
)

const [a, b] = servers.map((server) => `http://127.0.0.1:${server.address().port}`)
console.log(`gateway A on ${a}`)
console.log(`gateway B on ${b}`)
console.log(
  `sharing activity in ${redisUrl.replace(/\/\/[^@/]*@/, "//")}; hello stops after ${idleAfter} idle on both`,
)
console.log("try:")
console.log(`  curl ${b}/function/hello                      # B wakes hello`)
console.log(
  `  while curl -s ${a}/function/hello; do sleep 1; done   # then keep it busy through A only`,
)
console.log(
  `B's idle check sees A's requests in Redis and leaves hello running; stop the loop and,`,
)
console.log(
  `${idleAfter} later, one of the two stops it. Ctrl-C stops both gateways and the service.`,
)

let stopping = false
const stop = async (signal) => {
  if (stopping) return
  stopping = true
  log(`${signal}: stopping both gateways and the service`)
  for (const server of servers) {
    server.close()
    server.closeAllConnections()
  }
  await gateways.close()
  process.exit(0)
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)

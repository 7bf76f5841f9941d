// `npm start`: the gateway on PORT (default 8080), telling what happens as it happens.
import { createGateway, SAMPLE_SERVICES } from "./gateway.js"
import { log, readStartOptions } from "./start-options.js"

const { port, idleAfter, idleAfterMs } = readStartOptions({ idleAfter: "30s" })
const host = process.env.HOST ?? "127.0.0.1"

const gateway = createGateway({ idleAfterMs, log })
const server = gateway.app.listen(port, host, () => {
  const address = server.address()
  const base = `http://${host}:${address.port}`
  console.log(`scale-from-zero Express gateway on ${base}`)
  console.log(
    `services ${SAMPLE_SERVICES.join(", ")}: scaled to zero; started on their first request, stopped after ${idleAfter} idle`,
  )
  console.log("try:")
  console.log(`  curl -i ${base}/function/hello              # cold start: held until hello is up`)
  console.log(`  curl -i ${base}/function/hello?name=you     # warm`)
  console.log(`  curl -i -X POST --data-binary 'ping' ${base}/function/echo`)
  console.log(`  curl ${base}/                               # which services run, with their pids`)
  console.log(
    `then wait ${idleAfter} for the scale-down. Ctrl-C stops the gateway and its services.`,
  )
})
server.on("error", (error) => {
  console.error(`cannot listen on ${host}:${port}: ${error.message}`)
  process.exit(1)
})

let stopping = false
const stop = async (signal) => {
  if (stopping) return
  stopping = true
  log(`${signal}: stopping the gateway and its services`)
  server.close()
  server.closeAllConnections()
  await gateway.close()
  process.exit(0)
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)

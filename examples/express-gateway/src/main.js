// `npm start`: the gateway on PORT (default 8080), telling what happens as it happens.
import { parseDuration } from "@scale-from-zero/core"
import { createGateway, SAMPLE_SERVICES } from "./gateway.js"

const port = Number(process.env.PORT ?? 8080)
const host = process.env.HOST ?? "127.0.0.1"
const idleAfter = process.env.IDLE_AFTER ?? "30s"
const idleAfterMs = parseDuration(idleAfter)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, got ${process.env.PORT}`)
  process.exit(1)
}
if (idleAfterMs === undefined || idleAfterMs <= 0) {
  console.error(`IDLE_AFTER must be a duration such as 30s, 2m or 500ms, got ${idleAfter}`)
  process.exit(1)
}

const time = () => new Date().toISOString().slice(11, 23)
const log = (line) => console.log(`[${time()}] ${line}`)

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

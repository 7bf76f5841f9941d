// `npm start` (and the root's `npm run demo`): the gateway on PORT (default 8080), telling what
// happens as it happens.
import { createServer } from "node:http"
import { createGateway, SAMPLE_SERVICES } from "./gateway.js"
import { log, readStartOptions } from "./start-options.js"

const { port, idleAfter, idleAfterMs } = readStartOptions({ idleAfter: "30s" })
const host = process.env.HOST ?? "127.0.0.1"
// How this process was started, so an error can say how to start it again.
const command = process.env.npm_lifecycle_event === "start" ? "npm start" : "npm run demo"

const gateway = createGateway({ idleAfterMs, log })
const server = createServer(gateway.app)
server.on("error", (error) => {
  if (error.code === "EADDRINUSE") {
    console.error(`port ${port} is in use; try PORT=${port + 1} ${command}`)
  } else {
    console.error(`cannot listen on ${host}:${port}: ${error.message}`)
  }
  process.exit(1)
})
server.listen(port, host, () => {
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

let stopping = false
const stop = async (reason) => {
  if (stopping) return
  stopping = true
  log(`${reason}: stopping the gateway and its services`)
  server.close()
  server.closeAllConnections()
  await gateway.close()
  process.exit(0)
}
// npm forwards SIGINT and SIGTERM to the gateway; a closing terminal sends SIGHUP.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.once(signal, () => stop(signal))
// npm itself dies of any other signal (SIGHUP, SIGKILL) without passing it on, and leaves this
// process to init: a gateway whose parent is gone stops too, so no replica outlives the demo.
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) stop(`parent process ${parent} exited`)
}, 250).unref()

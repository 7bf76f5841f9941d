// The sample service: says hello as JSON, with its pid. Plain Node, no dependencies; listens on $PORT.
import { createServer } from "node:http"

const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(204).end()
    return
  }
  res.setHeader("content-type", "application/json")
  res.end(`${JSON.stringify({ message: "Hello from the service", pid: process.pid })}\n`)
})

server.listen(Number(process.env.PORT), "127.0.0.1")
// Stop taking requests on SIGTERM, finish the ones in progress, then exit.
process.once("SIGTERM", () => server.close(() => process.exit(0)))

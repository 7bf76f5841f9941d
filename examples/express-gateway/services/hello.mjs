// A sample service: says hello as JSON. Plain Node, no dependencies; listens on $PORT.
import { createServer } from "node:http"

const startedAt = Date.now()

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost")
  if (url.pathname === "/healthz") {
    res.writeHead(204).end()
    return
  }
  const name = url.searchParams.get("name") ?? "world"
  res.setHeader("content-type", "application/json")
  res.end(
    `${JSON.stringify({
      message: `Hello, ${name}!`,
      pid: process.pid,
      path: url.pathname,
      uptimeMs: Date.now() - startedAt,
    })}\n`,
  )
})

server.listen(Number(process.env.PORT), "127.0.0.1")
// Stop taking requests on SIGTERM, finish the ones in progress, then exit.
process.once("SIGTERM", () => server.close(() => process.exit(0)))

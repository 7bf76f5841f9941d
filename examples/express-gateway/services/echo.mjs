// A sample service: streams the request body back as it arrives (POST/PUT), so the
// gateway's proxying of bodies can be seen. Plain Node, no dependencies; listens on $PORT.
import { createServer } from "node:http"

const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(204).end()
    return
  }
  if (req.method === "GET" || req.method === "HEAD") {
    res.setHeader("content-type", "text/plain; charset=utf-8")
    res.end(`echo (pid ${process.pid}): POST a body and it comes back\n`)
    return
  }
  res.writeHead(200, {
    "content-type": req.headers["content-type"] ?? "application/octet-stream",
    "x-echo-pid": String(process.pid),
  })
  req.pipe(res)
})

server.listen(Number(process.env.PORT), "127.0.0.1")
process.once("SIGTERM", () => server.close(() => process.exit(0)))

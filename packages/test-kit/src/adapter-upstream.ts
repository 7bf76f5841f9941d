import { createHash } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** What the upstream answers: what it received, hashed. */
export interface UpstreamAnswer {
  method: string
  path: string
  bytes: number
  sha256: string
}

/** The upstream's own Server-Timing, which a proxy copies to the client with the gateway's. */
export const UPSTREAM_SERVER_TIMING = "app;dur=1"

/**
 * A service for proxy tests on 127.0.0.1: answers every request with an UpstreamAnswer and a
 * Server-Timing of its own. `close()` stops it.
 */
export async function startHashingUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const hash = createHash("sha256")
    let bytes = 0
    request.on("data", (chunk: Buffer) => {
      bytes += chunk.length
      hash.update(chunk)
    })
    request.on("end", () => {
      const answer: UpstreamAnswer = {
        method: request.method ?? "",
        path: request.url ?? "",
        bytes,
        sha256: hash.digest("hex"),
      }
      response.writeHead(200, {
        "content-type": "application/json",
        "server-timing": UPSTREAM_SERVER_TIMING,
      })
      response.end(JSON.stringify(answer))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

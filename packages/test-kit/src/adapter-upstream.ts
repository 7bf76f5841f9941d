import { createHash } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"

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
  const server = createServer(answerHashed)
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

function answerHashed(request: IncomingMessage, response: ServerResponse): void {
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
}

/** A hashing upstream behind a memory backend: it listens only while the backend scales it up. */
export interface ScalableUpstream {
  /** Base URL; connections are refused while the service is scaled to zero. */
  readonly url: string
  /** The backend: service `echo` in `openfaas-fn`, ready at first, polled (no watch). */
  readonly serviceQuery: MemoryServiceQuery
  /** Scales the service to zero behind the gateway's back: its port refuses connections. */
  scaleDownBehindGatewaysBack(): Promise<void>
  /** Stops the server while the backend still reports it ready (a crash nobody noticed). */
  crash(): Promise<void>
  close(): Promise<void>
}

/**
 * A service that is really gone when scaled to zero, for the `rewake` tests: scaling it up
 * (setReplicas > 0) opens its port, ready after `startupDelayMs`; scaling it to zero closes it.
 */
export async function startScalableUpstream(startupDelayMs = 200): Promise<ScalableUpstream> {
  const server = createServer(answerHashed)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve()
      server.closeAllConnections()
      server.close(() => resolve())
    })
  const start = () =>
    new Promise<void>((resolve) => {
      if (server.listening) return resolve()
      server.listen(port, "127.0.0.1", resolve)
    })
  const memory = createMemoryServiceQuery({
    services: { echo: { replicas: 1, startupDelayMs } },
    watch: false,
  })
  const serviceQuery: MemoryServiceQuery = Object.assign(Object.create(memory), {
    async setReplicas(service, namespace, count, options) {
      await memory.setReplicas(service, namespace, count, options)
      await (count > 0 ? start() : stop())
    },
  } satisfies Pick<MemoryServiceQuery, "setReplicas">)
  return {
    url: `http://127.0.0.1:${port}`,
    serviceQuery,
    scaleDownBehindGatewaysBack: () => serviceQuery.setReplicas("echo", "openfaas-fn", 0),
    crash: stop,
    async close() {
      memory.close()
      await stop()
    },
  }
}

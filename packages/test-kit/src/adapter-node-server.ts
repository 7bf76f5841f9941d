import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http"
import type { AddressInfo } from "node:net"
import { Readable } from "node:stream"
import type { Gate } from "@scale-from-zero/core"
import type { RunningApp } from "./adapter-contract.js"
import {
  type ContractBackend,
  type ContractScenario,
  createContractBackend,
  type EchoAnswer,
  echoAnswer,
  STREAM_EVENTS,
  STREAM_EVERY_MS,
} from "./adapter-scenario.js"

/** Reads a Node request body to its end. */
export async function readAll(request: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The contract's next handler on Node: what reached it, body included. */
export async function echoNodeRequest(request: IncomingMessage, path: string): Promise<EchoAnswer> {
  return echoAnswer(request.method ?? "GET", path, await readAll(request))
}

/**
 * Serves a framework app built for one contract scenario on 127.0.0.1, for the adapter
 * contract: `build` gets the backend and returns the request listener and the adapter's gate;
 * `wrap` may put the listener inside something (a server span).
 */
export async function serveContractApp(
  scenario: ContractScenario,
  build: (backend: ContractBackend) => {
    listener: RequestListener
    middleware: ContractMiddleware
  },
  wrap: (listener: RequestListener) => RequestListener = (listener) => listener,
): Promise<RunningApp> {
  const backend = createContractBackend(scenario)
  const { listener, middleware } = build(backend)
  const { gate } = middleware
  const server = createServer(wrap(listener))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    stats: async () => backend.stats(gate),
    scaleExternally: backend.scaleExternally,
    sleep: (service, drainMs) => gate.sleep(service, undefined, { drainMs }),
    closeMiddleware: () => middleware.close(),
    close: async () => {
      backend.close(gate)
      await closeServer(server)
    },
  }
}

/** What every adapter's `scaleFromZero(...)` has: its gate, and `close()`. */
export interface ContractMiddleware {
  gate: Gate
  close(): void
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  )
}

/** Answers 200 with `value` as JSON. */
export function sendJson(response: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value)
  response.writeHead(200, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  })
  response.end(body)
}

/** The contract's event stream as a Node stream (piped by Express, `ctx.body` in Koa): spaced-out `data: N` events. */
export function nodeEvents(): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < STREAM_EVENTS; sent++) {
        await new Promise((resolve) => setTimeout(resolve, STREAM_EVERY_MS))
        yield `data: ${sent}\n\n`
      }
    })(),
  )
}

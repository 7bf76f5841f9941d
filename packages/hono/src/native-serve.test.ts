import { CONTRACT_CASES, runAdapterContract } from "@scale-from-zero/test-kit/adapter-contract"
import type { ContractStats } from "@scale-from-zero/test-kit/adapter-scenario"
import { afterAll, beforeAll, expect } from "vitest"
import contractWorker from "../test/contract-worker.js"

// The contract app on the runtime's own server, Deno.serve or Bun.serve, in the test process
// itself. Only Deno and Bun run this file (vitest.config.ts): CI runs the suite under each.
declare const Deno:
  | {
      serve(
        options: { hostname: string; port: number; onListen(address: { port: number }): void },
        handler: (request: Request) => Promise<Response>,
      ): { shutdown(): Promise<void> }
    }
  | undefined
declare const Bun:
  | {
      serve(options: {
        hostname: string
        port: number
        idleTimeout: number
        fetch: (request: Request) => Promise<Response>
      }): { port: number; stop(force: boolean): Promise<void> }
    }
  | undefined

const handler = (request: Request) =>
  contractWorker.fetch(request, undefined, undefined as never) as Promise<Response>

async function serve(): Promise<{ name: string; port: number; stop(): Promise<void> }> {
  if (typeof Deno !== "undefined") {
    let server: { shutdown(): Promise<void> } | undefined
    const port = await new Promise<number>((resolve) => {
      server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: (address) => resolve(address.port) },
        handler,
      )
    })
    return { name: "Deno.serve", port, stop: () => server!.shutdown() }
  }
  if (typeof Bun === "undefined") throw new Error("neither Deno nor Bun runs this test")
  // idleTimeout 0: held requests may wait longer than Bun's default 10 s.
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: handler })
  return { name: "Bun.serve", port: server.port, stop: () => server.stop(true) }
}

const server = await serve()
let url = ""

beforeAll(() => {
  url = `http://127.0.0.1:${server.port}`
})

afterAll(async () => {
  await server.stop()
})

runAdapterContract(`Hono on ${server.name}`, {
  // gate.sleep needs the gate in this process; the runtime's server is reached over HTTP only.
  cases: CONTRACT_CASES.filter((name) => name !== "sleep-drain" && name !== "shutdown"),
  async start(scenario) {
    const setup = await fetch(`${url}/__scenario`, {
      method: "POST",
      body: JSON.stringify(scenario),
    })
    expect(setup.status).toBe(204)
    return {
      url,
      stats: async () => (await (await fetch(`${url}/__stats`)).json()) as ContractStats,
      async scaleExternally(service, replicas) {
        const scaled = await fetch(`${url}/__scale`, {
          method: "POST",
          body: JSON.stringify({ service, replicas }),
        })
        expect(scaled.status).toBe(204)
      },
      close: async () => {},
    }
  },
})

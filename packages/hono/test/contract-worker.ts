// The Worker that workerd runs for the contract: the contract app, rebuilt per case by
// POST /__scenario, with the gate's and backend's counters at GET /__stats, and POST /__scale to
// scale a service behind the gate's back.
import type { ContractScenario } from "@scale-from-zero/test-kit/adapter-scenario"
import type { ExecutionContext } from "hono"
import { type ContractApp, createContractApp } from "./contract-app.js"

let current: ContractApp | undefined

export default {
  async fetch(request: Request, env: unknown, context: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname === "/__scenario") {
      current?.close()
      current = createContractApp((await request.json()) as ContractScenario)
      return new Response(null, { status: 204 })
    }
    if (current === undefined) return new Response("no scenario yet", { status: 503 })
    if (pathname === "/__stats") return Response.json(current.stats())
    if (pathname === "/__scale") {
      const { service, replicas } = (await request.json()) as { service: string; replicas: number }
      await current.scaleExternally(service, replicas)
      return new Response(null, { status: 204 })
    }
    return current.app.fetch(request, env, context)
  },
}

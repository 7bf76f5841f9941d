import { runAdapterContract } from "@scale-from-zero/test-kit/adapter-contract"
import type { ContractStats } from "@scale-from-zero/test-kit/adapter-scenario"
import {
  bundleWorker,
  startWorkerd,
  WORKER_COMPATIBILITY,
  workerdSkipReason,
} from "@scale-from-zero/test-kit/workerd"
import type { Miniflare } from "miniflare"
import { afterAll, beforeAll, describe, expect } from "vitest"

// The same Hono contract app, bundled and run inside workerd (Cloudflare's runtime) by miniflare.
describe.skipIf(workerdSkipReason !== undefined)("in workerd (miniflare)", () => {
  let miniflare: Miniflare | undefined
  let url = ""

  beforeAll(async () => {
    miniflare = await startWorkerd({
      modules: true,
      script: await bundleWorker("../test/contract-worker.ts", import.meta.url),
      ...WORKER_COMPATIBILITY,
      host: "127.0.0.1",
      port: 0,
    })
    url = (await miniflare.ready).origin
  }, 30_000)

  afterAll(async () => {
    await miniflare?.dispose()
  })

  runAdapterContract("Hono in workerd", {
    // Every case but two, which the Node run of the same app shows:
    // "client-gone": workerd (as miniflare runs it here) neither aborts request.signal nor
    // cancels the request when the client disconnects: there is no departure to see.
    // "in-flight": idle scale-down checks on an interval, and workerd drops the interval
    // with the request that started it, so no scale-down ever comes.
    cases: [
      "pass-through",
      "invalid-name",
      "unknown-service",
      "warm",
      "cold-start",
      "backend-error",
      "timeout",
      "shed",
      "concurrent-cold",
      "large-body",
      "waiting-page",
      "horizontal-scaling",
      "streamed-body",
    ],
    async start(scenario) {
      const setup = await fetch(`${url}/__scenario`, {
        method: "POST",
        body: JSON.stringify(scenario),
      })
      expect(setup.status).toBe(204)
      return {
        url,
        stats: async () => (await (await fetch(`${url}/__stats`)).json()) as ContractStats,
        close: async () => {},
      }
    },
  })
})

import { fileURLToPath } from "node:url"
import { runAdapterContract } from "@scale-from-zero/test-kit/adapter-contract"
import type { ContractStats } from "@scale-from-zero/test-kit/adapter-scenario"
import { build } from "esbuild"
import { afterAll, beforeAll, expect, it } from "vitest"

// The same Hono contract app, bundled and run inside workerd (Cloudflare's runtime) by miniflare.
// Under CI a missing workerd fails here instead of skipping the runtime.
const loaded = await import("miniflare").then(
  (module) => ({ module }),
  (error: unknown) => ({ error }),
)
const ci = process.env.CI === "true"

it.runIf(ci || "module" in loaded)("workerd is available", () => {
  expect("error" in loaded ? String(loaded.error) : "").toBe("")
})

if ("module" in loaded) {
  const { Miniflare } = loaded.module
  let miniflare: InstanceType<typeof Miniflare> | undefined
  let url = ""

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL("../test/contract-worker.ts", import.meta.url))],
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      conditions: ["source", "workerd", "worker", "browser"],
      mainFields: ["module", "main"],
      target: "es2022",
    })
    miniflare = new Miniflare({
      modules: true,
      script: bundle.outputFiles[0]?.text ?? "",
      compatibilityDate: "2026-04-01",
      compatibilityFlags: ["enable_request_signal"],
      host: "127.0.0.1",
      // Never fetch Cloudflare's request metadata from the network.
      cf: false,
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
}

// Workers run in workerd (Cloudflare's runtime) through miniflare, for the packages' edge tests.
import { fileURLToPath } from "node:url"
import { build } from "esbuild"
import type { Miniflare, MiniflareOptions } from "miniflare"

const loaded = await import("miniflare").then(
  (module) => ({ Miniflare: module.Miniflare, error: undefined }),
  (error: unknown) => ({ Miniflare: undefined, error }),
)

/**
 * Why workerd cannot run here, or undefined when it can. Locally, a machine without it skips
 * the edge tests; under CI they must run, so this stays undefined and `startWorkerd` fails.
 */
export const workerdSkipReason =
  loaded.Miniflare === undefined && process.env.CI !== "true"
    ? `miniflare does not load: ${String(loaded.error)}`
    : undefined

/** Every test Worker's runtime: the compatibility the packages' READMEs document. */
export const WORKER_COMPATIBILITY = {
  compatibilityDate: "2026-04-01",
  compatibilityFlags: ["enable_request_signal"],
}

/**
 * Starts workerd with `options` (each Worker's own compatibility settings included), never
 * fetching Cloudflare's request metadata from the network.
 */
export async function startWorkerd(options: MiniflareOptions): Promise<Miniflare> {
  if (loaded.Miniflare === undefined) throw loaded.error
  const miniflare = new loaded.Miniflare({ cf: false, ...options })
  await miniflare.ready
  return miniflare
}

/** Bundles a Worker entry (a URL relative to `from`) with the workspace packages from source, as wrangler would. */
export async function bundleWorker(entry: string, from: string | URL): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, from))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["source", "workerd", "worker"],
    write: false,
    logLevel: "silent",
  })
  return result.outputFiles[0]!.text
}

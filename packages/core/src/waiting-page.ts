import type { HeaderReader } from "./gate.js"

/** True for a browser navigation: a GET or HEAD whose Accept names text/html (curl and fetch send `*\/*`). */
export function prefersHtml(method: string, headers: HeaderReader): boolean {
  if (method !== "GET" && method !== "HEAD") return false
  const accept = headers.get("accept")
  if (!accept) return false
  for (const part of accept.split(",")) {
    const [type = "", ...params] = part.split(";")
    if (type.trim().toLowerCase() !== "text/html") continue
    return !params.some((param) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(param))
  }
  return false
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

export interface WaitingPageInfo {
  name: string
  namespace: string
  /** Milliseconds since the service began to start. */
  elapsedMs: number
  /** Seconds before the page reloads itself. */
  refreshSeconds: number
}

/** A small, accessible page that reloads itself until the service answers instead. */
export function renderWaitingPage({
  name,
  namespace,
  elapsedMs,
  refreshSeconds,
}: WaitingPageInfo): string {
  const service = escapeHtml(`${name}.${namespace}`)
  const seconds = Math.max(0, Math.round(elapsedMs / 1000))
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${refreshSeconds}">
<title>Starting ${service}…</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;min-height:100vh;display:grid;place-items:center;background:#f6f7f9;color:#1b1f24}
main{max-width:32rem;padding:2rem;text-align:center}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#e8eaed}}
</style>
</head>
<body>
<main>
<h1>Starting <code>${service}</code></h1>
<p role="status" aria-live="polite">The service was scaled to zero and is starting up: ${seconds} s so far.
This page reloads every ${refreshSeconds} s and shows the service as soon as it is ready.</p>
</main>
</body>
</html>
`
}

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

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

/** What a waiting page is made of; `waitingPage.render(info)` receives it. */
export interface WaitingPageInfo {
  /** The service being started. */
  name: string
  namespace: string
  /** Milliseconds since the service began to start. */
  elapsedMs: number
  /**
   * How long the service's recent cold starts took (the median of the last few, in ms), or
   * undefined before this gateway has seen one: the honest basis of a progress estimate.
   */
  typicalStartMs: number | undefined
  /** Seconds between reloads of the page in a browser without JavaScript. */
  refreshSeconds: number
  /**
   * Markup for the page's `<head>`: the reload for browsers without JavaScript, and a small
   * inline script that waits for the service (re-asking with HEAD requests the gate holds)
   * and shows the real page the moment it is ready, while keeping the elements with
   * `data-elapsed`, `data-progress` and `data-remaining` up to date. A custom page includes it.
   */
  head: string
}

/** Marks the gate's waiting page, so the page's script tells it from the service's own 503. */
export const WAITING_PAGE_HEADER = "x-scale-from-zero"

// Polls with HEAD (the gate holds it until the service is ready or `afterMs` passes), and
// reloads once the answer is not the waiting page; updates the elapsed time and estimate.
const LIVE_SCRIPT = `(function(){
var s=document.currentScript,t0=Date.now()-Number(s.dataset.startedMsAgo),typ=Number(s.dataset.typicalMs)||0;
function tick(){var ms=Date.now()-t0,e=document.querySelector("[data-elapsed]"),p=document.querySelector("[data-progress]"),r=document.querySelector("[data-remaining]");
if(e)e.textContent=Math.round(ms/1000)+" s";
if(typ&&p){p.value=Math.min(ms/typ,0.95);}
if(typ&&r){var left=Math.max(0,Math.ceil((typ-ms)/1000));r.textContent=left>0?"about "+left+" s left":"any moment now";}}
setInterval(tick,250);
function poll(){var t=Date.now();fetch(location.href,{method:"HEAD",headers:{accept:"text/html"},cache:"no-store",credentials:"same-origin"}).then(function(res){
if(res.headers.get("${WAITING_PAGE_HEADER}")!=="waiting"){location.reload();return}
setTimeout(poll,Math.max(0,1000-(Date.now()-t)))},function(){setTimeout(poll,1000)})}
document.addEventListener("DOMContentLoaded",tick);poll()})()`

/** The `head` markup of WaitingPageInfo. */
export function waitingPageHead(
  elapsedMs: number,
  typicalStartMs: number | undefined,
  refreshSeconds: number,
): string {
  const typical =
    typicalStartMs === undefined ? "" : ` data-typical-ms="${Math.round(typicalStartMs)}"`
  return `<noscript><meta http-equiv="refresh" content="${refreshSeconds}"></noscript>
<script data-started-ms-ago="${Math.round(elapsedMs)}"${typical}>${LIVE_SCRIPT}</script>`
}

const seconds = (ms: number) => Math.max(0, Math.round(ms / 1000))

/**
 * The default waiting page: the service's name, the time so far and, once this gateway has
 * seen the service start before, an estimate from those starts (elapsed / typical). Updates
 * itself without reloading; reloads every `refreshSeconds` without JavaScript. Light and dark,
 * AA contrast, no motion under `prefers-reduced-motion`, no external resources.
 */
export function renderWaitingPage(info: WaitingPageInfo): string {
  const service = escapeHtml(`${info.name}.${info.namespace}`)
  const { elapsedMs, typicalStartMs } = info
  const estimate =
    typicalStartMs === undefined
      ? `<progress aria-label="Starting ${service}"></progress>
<p class="hint">No estimate yet: this is the first start this gateway has seen.</p>`
      : `<progress data-progress max="1" value="${Math.min(elapsedMs / typicalStartMs, 0.95).toFixed(3)}" aria-label="Starting ${service}"></progress>
<p class="hint">It usually takes ${seconds(typicalStartMs) || "under 1"} s: <span data-remaining>${
          typicalStartMs > elapsedMs
            ? `about ${Math.ceil((typicalStartMs - elapsedMs) / 1000)} s left`
            : "any moment now"
        }</span>.</p>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Starting ${service}…</title>
${info.head}
<style>
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1b1f24;--muted:#4a525c;--accent:#0b57d0}
@media (prefers-color-scheme:dark){:root{--bg:#16181c;--fg:#e8eaed;--muted:#b4bac2;--accent:#8ab4f8}}
body{font:16px/1.5 system-ui,sans-serif;margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--fg)}
main{width:min(32rem,100% - 2rem);text-align:center}
h1{font-size:1.5rem;margin:0 0 1rem}
code{font-size:1.1em}
progress{width:100%;height:.75rem;accent-color:var(--accent)}
.hint{color:var(--muted)}
@media (prefers-reduced-motion:no-preference){progress:not([value]){animation:pulse 1.6s ease-in-out infinite}}
@keyframes pulse{50%{opacity:.5}}
</style>
</head>
<body>
<main>
<h1>Starting <code>${service}</code></h1>
${estimate}
<p role="status">It was scaled to zero and is starting now. This page turns into the service as soon as it is ready.</p>
<p class="hint">Waiting for <span data-elapsed>${seconds(elapsedMs)} s</span> so far.</p>
</main>
</body>
</html>
`
}

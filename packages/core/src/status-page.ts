import type { Gate, GateReply, GateRequest } from "./gate.js"
import { invalidOption } from "./options.js"
import type { ServiceStatus } from "./status.js"

/** Seconds between reloads of the page when JavaScript is off. */
const NO_SCRIPT_REFRESH_SECONDS = 5
/** Milliseconds between the page's live reads of the status. */
const LIVE_INTERVAL_MS = 1000

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
} as const

function answer(status: number, contentType: string, body: string, extra = {}): GateReply {
  return {
    kind: "reply",
    status,
    headers: { "content-type": contentType, ...SECURITY_HEADERS, ...extra },
    body,
  }
}

const json = (status: number, value: unknown) =>
  answer(status, "application/json; charset=utf-8", JSON.stringify(value))

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  )

/**
 * A cross-origin browser request, refused for a state change (CSRF), as Go's
 * CrossOriginProtection judges it: `Sec-Fetch-Site` when the browser sends it, else `Origin`
 * against `Host`. A request with neither is not from a browser, so no CSRF.
 */
function crossOrigin(request: GateRequest): boolean {
  const site = request.headers.get("sec-fetch-site")
  if (site) return site !== "same-origin" && site !== "none"
  const origin = request.headers.get("origin")
  if (!origin) return false
  try {
    return new URL(origin).host !== request.headers.get("host")
  } catch {
    return true
  }
}

function wantsJson(request: GateRequest): boolean {
  const accept = request.headers.get("accept") ?? ""
  return accept.includes("application/json") && !accept.includes("text/html")
}

function renderPage(services: ServiceStatus[], actions: boolean, nonce: string): string {
  const data = JSON.stringify({ services, actions }).replace(/</g, "\\u003c")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scale-from-zero status</title>
<noscript><meta http-equiv="refresh" content="${NO_SCRIPT_REFRESH_SECONDS}"></noscript>
<style nonce="${nonce}">
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fafafa}
h1{font-size:1.3rem}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e3e6ea}
th{font-weight:600;color:#555}.state{font-weight:600;border-radius:1rem;padding:.1rem .6rem}
.ready{background:#d8f5dd;color:#14652a}.waking{background:#fff1c9;color:#7a5700}
.cold{background:#dde8fb;color:#1f4f99}.scaling-down{background:#eee;color:#444}
.missing{background:#fbdcdc;color:#8a1c1c}form{display:inline}
button{margin-right:.3rem}footer{margin-top:1rem;color:#777}
</style></head><body>
<h1>scale-from-zero: services</h1>
<table><thead><tr><th>service</th><th>namespace</th><th>state</th><th>replicas</th>
<th>available</th><th>held</th><th>in flight</th><th>last cold start</th><th>last activity</th>
<th>idle scale-down in</th><th>actions</th></tr></thead><tbody id="services">${services
    .map((s) => renderRow(s, actions))
    .join("")}</tbody></table>
<footer id="updated">${actions ? "" : "Wake and sleep are off: the gateway's authorize() did not allow them."}</footer>
<script nonce="${nonce}">
const initial = ${data};
const fmtMs = (ms) => ms == null ? "—" : ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
const fmtTime = (t) => t == null ? "—" : new Date(t).toLocaleTimeString();
const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };
function button(s, action, on) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = "?action=" + action + "&service=" + encodeURIComponent(s.name) + "&namespace=" + encodeURIComponent(s.namespace);
  const b = document.createElement("button");
  b.textContent = action; b.disabled = !on; b.dataset.action = action; b.dataset.service = s.name;
  form.append(b); return form;
}
function render(view) {
  const rows = view.services.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.service = s.name + "." + s.namespace;
    const state = cell(""); const badge = document.createElement("span");
    badge.className = "state " + s.state; badge.textContent = s.state; state.append(badge);
    const acts = cell(""); acts.append(button(s, "wake", view.actions), button(s, "sleep", view.actions));
    tr.append(cell(s.name), cell(s.namespace), state, cell(s.replicas ?? "—"), cell(s.availableReplicas ?? "—"),
      cell(s.held), cell(s.inFlight ?? "—"), cell(fmtMs(s.lastColdStartMs)), cell(fmtTime(s.lastActivity)),
      cell(fmtMs(s.idleScaleDownInMs)), acts);
    return tr;
  });
  document.getElementById("services").replaceChildren(...rows);
  document.getElementById("updated").textContent = (view.actions ? "" : "Wake and sleep are off. ") + "Updated " + new Date().toLocaleTimeString();
}
async function refresh() {
  try {
    const response = await fetch(location.pathname, { headers: { accept: "application/json" }, cache: "no-store" });
    if (response.ok) render(await response.json());
  } catch {}
}
document.addEventListener("submit", async (event) => {
  event.preventDefault();
  await fetch(event.target.action, { method: "POST", headers: { accept: "application/json" } }).catch(() => {});
  refresh();
});
render(initial);
setInterval(refresh, ${LIVE_INTERVAL_MS});
</script></body></html>`
}

function renderRow(s: ServiceStatus, actions: boolean): string {
  const dash = (v: number | null) => (v === null ? "—" : String(v))
  const button = (action: string) =>
    `<form method="post" action="?action=${action}&amp;service=${encodeURIComponent(s.name)}&amp;namespace=${encodeURIComponent(s.namespace)}"><button${actions ? "" : " disabled"}>${action}</button></form>`
  return `<tr data-service="${escapeHtml(`${s.name}.${s.namespace}`)}"><td>${escapeHtml(s.name)}</td><td>${escapeHtml(s.namespace)}</td><td><span class="state ${s.state}">${s.state}</span></td><td>${dash(s.replicas)}</td><td>${dash(s.availableReplicas)}</td><td>${s.held}</td><td>${dash(s.inFlight)}</td><td>${dash(s.lastColdStartMs)}</td><td>${s.lastActivity === null ? "—" : new Date(s.lastActivity).toISOString()}</td><td>${dash(s.idleScaleDownInMs)}</td><td>${button("wake")}${button("sleep")}</td></tr>`
}

/** Options of every adapter's `statusHandler`; `R` is the framework's request (or context). */
export interface StatusHandlerOptions<R> {
  /**
   * Allows the wake and sleep buttons for this request (check a session, a token, an address…).
   * Without it, or when it answers false, the page is read-only and POSTs get 403.
   */
  authorize?: (request: R) => boolean | Promise<boolean>
}

/** Checks a `statusHandler`'s options; returns the authorize function (never allows without one). */
export function statusAuthorizer<R>(
  options: StatusHandlerOptions<R> = {},
): (request: R) => Promise<boolean> {
  const { authorize } = options
  if (authorize !== undefined && typeof authorize !== "function") {
    throw invalidOption("authorize", "a function (request) => boolean", authorize)
  }
  if (authorize === undefined) return () => Promise.resolve(false)
  return async (request) => (await authorize(request)) === true
}

/**
 * The status endpoint behind every adapter's `statusHandler`: GET answers `gate.status()` as
 * JSON (`Accept: application/json`) or as a live page; POST `?action=wake|sleep&service=…
 * &namespace=…` acts, only when `authorized` and from the same origin. `path` is the request's.
 */
export async function answerStatusRequest(
  gate: Gate,
  request: GateRequest,
  authorized: boolean,
): Promise<GateReply> {
  const method = request.method.toUpperCase()
  if (method === "GET" || method === "HEAD") {
    const services = gate.status()
    if (wantsJson(request)) return json(200, { services, actions: authorized })
    const nonce = crypto.randomUUID()
    return answer(200, "text/html; charset=utf-8", renderPage(services, authorized, nonce), {
      "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    })
  }
  if (method !== "POST") return json(405, { error: "GET or POST only" })
  if (crossOrigin(request)) return json(403, { error: "cross-origin request refused" })
  if (!authorized) return json(403, { error: "not allowed: authorize() refused" })
  const query = new URLSearchParams(request.path.slice(request.path.indexOf("?") + 1))
  const action = query.get("action")
  const name = query.get("service") ?? ""
  const namespace = query.get("namespace") ?? ""
  if (action !== "wake" && action !== "sleep") {
    return json(400, { error: "action must be wake or sleep" })
  }
  // Only services the status lists: the buttons act on what the gate has seen, nothing else.
  if (!gate.status().some((s) => s.name === name && s.namespace === namespace)) {
    return json(404, { error: `no service ${name}.${namespace} in the status` })
  }
  let done = true
  // A wake goes on in the background (the page shows it); a sleep answers once it is made.
  if (action === "wake") void gate.wake(name, namespace)
  else done = await gate.sleep(name, namespace).catch(() => false)
  if (wantsJson(request)) return json(202, { action, service: name, namespace, done })
  // A form posted without JavaScript: back to the page.
  const page = request.path.split("?")[0] ?? "/"
  return answer(303, "text/plain; charset=utf-8", "", { location: page })
}

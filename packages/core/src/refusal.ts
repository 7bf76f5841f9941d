import type { GateReply, HeaderReader } from "./gate.js"
import { escapeHtml } from "./waiting-page.js"

/**
 * How a refusal is written for a client: `json` (RFC 9457 `application/problem+json`) for a
 * client whose Accept names JSON before HTML, `html` (a small page) for one that names HTML
 * first (browsers), `text` otherwise (curl, fetch's `*\/*`).
 */
export type RefusalFormat = "json" | "html" | "text"

/** Reads Accept in the client's order; a type with `q=0` is refused, not accepted. */
export function refusalFormat(headers: HeaderReader): RefusalFormat {
  const accept = headers.get("accept")
  if (!accept) return "text"
  for (const part of accept.split(",")) {
    const [rawType = "", ...params] = part.split(";")
    if (params.some((param) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(param))) continue
    const type = rawType.trim().toLowerCase()
    if (type === "text/html") return "html"
    if (type === "application/json" || type.endsWith("+json")) return "json"
  }
  return "text"
}

/** The title RFC 9457 asks for with `type: "about:blank"`: the status's reason phrase. */
const TITLES: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  499: "Client Closed Request",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
}

const COMMON_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
} as const

/** A plain-text reply, as the gate answers clients that asked for nothing in particular. */
export function textReply(
  status: number,
  body: string,
  extraHeaders?: Record<string, string>,
): GateReply {
  return {
    kind: "reply",
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...COMMON_HEADERS, ...extraHeaders },
    body,
  }
}

/** What a refusal says, whatever its format. */
export interface RefusalDetail {
  /** A stable error code (`ERR_SCALE_TIMEOUT`…), carried as the problem's `code` member. */
  readonly code: string
  readonly service?: string
  readonly namespace?: string
}

/**
 * A refusal in the client's format: the same status, headers (`Retry-After`…) and sentence
 * as text, as a problem+json document (`type`, `title`, `status`, `detail`, plus `code`,
 * `service`, `namespace`), or as a small HTML page.
 */
export function refusalReply(
  format: RefusalFormat,
  status: number,
  detail: string,
  about: RefusalDetail,
  extraHeaders?: Record<string, string>,
): GateReply {
  if (format === "text") return textReply(status, detail, extraHeaders)
  const title = TITLES[status] ?? "Error"
  if (format === "json") {
    const problem = { type: "about:blank", title, status, detail, ...about }
    return {
      kind: "reply",
      status,
      headers: { "content-type": "application/problem+json", ...COMMON_HEADERS, ...extraHeaders },
      body: JSON.stringify(problem),
    }
  }
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${status} ${title}</title>
<style>body{font:1rem/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}@media(prefers-color-scheme:dark){body{background:#111;color:#eee}}</style>
</head><body><h1>${status} ${title}</h1><p>${escapeHtml(detail)}</p></body></html>`
  return {
    kind: "reply",
    status,
    headers: { "content-type": "text/html; charset=utf-8", ...COMMON_HEADERS, ...extraHeaders },
    body,
  }
}

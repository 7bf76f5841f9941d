import { describeValue, invalidOption, numberOption } from "@scale-from-zero/core/provider"

export interface OpenFaaSBasicAuth {
  user: string
  password: string
}

/** The fetch the query calls: the global one by default. */
export type OpenFaaSFetch = (input: string, init: RequestInit) => Promise<Response>

export interface OpenFaaSServiceQueryOptions {
  /** The OpenFaaS gateway or faas-provider, e.g. `http://gateway.openfaas:8080`. */
  url: string | URL
  /** Credentials for the `/system/` endpoints (the gateway's basic-auth secret). */
  basicAuth?: OpenFaaSBasicAuth
  /** A bearer token, for gateways behind OIDC/IAM; exclusive with `basicAuth`. */
  token?: string
  /** The fetch to call; default the global one. */
  fetch?: OpenFaaSFetch
  /** Milliseconds one call (answer and body) may take at most. Default 5000. */
  timeoutMs?: number
}

export const DEFAULT_OPENFAAS_TIMEOUT_MS = 5000
/** The longest delay a timer can hold (2^31 − 1 ms); a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2_147_483_647

/** The options, checked and resolved into what a call needs. */
export interface ResolvedOpenFaaSOptions {
  /** The provider's address without a trailing slash: `https://example.test/openfaas`. */
  endpoint: string
  /** The `authorization` header, or undefined without credentials. */
  authorization: string | undefined
  fetch: OpenFaaSFetch
  timeoutMs: number
}

/**
 * Checks every option as a JavaScript caller may pass anything: a wrong or missing one throws
 * a TypeError (code `ERR_INVALID_OPTION`) naming the option, what it must be and what it was.
 * Secrets (password, token) are described by their length, never echoed.
 */
export function resolveOptions(options: OpenFaaSServiceQueryOptions): ResolvedOpenFaaSOptions {
  if (options === undefined || options === null) {
    throw invalidOption("url", "an absolute http or https URL (a string or a URL)", undefined)
  }
  if (typeof options !== "object") {
    throw invalidOption("options", "an object such as { url, basicAuth }", options)
  }
  const given = options as OpenFaaSServiceQueryOptions & { timeout?: unknown }
  if (given.timeout !== undefined) {
    throw invalidOption("timeout", "left out: it is now timeoutMs (milliseconds)", given.timeout)
  }
  const timeoutMs = numberOption(
    "timeoutMs",
    given.timeoutMs,
    DEFAULT_OPENFAAS_TIMEOUT_MS,
    "positive",
  )
  if (timeoutMs > MAX_TIMEOUT_MS) {
    throw invalidOption("timeoutMs", `a positive number of at most ${MAX_TIMEOUT_MS}`, timeoutMs)
  }
  if (given.fetch !== undefined && typeof given.fetch !== "function") {
    throw invalidOption("fetch", "a function (input, init) => Promise<Response>", given.fetch)
  }
  const fetchFunction: OpenFaaSFetch = given.fetch ?? ((input, init) => fetch(input, init))
  return {
    endpoint: endpointOf(given.url),
    authorization: authorizationHeader(given.basicAuth, given.token),
    fetch: fetchFunction,
    timeoutMs,
  }
}

function endpointOf(url: unknown): string {
  const expected = "an absolute http or https URL (a string or a URL)"
  if (typeof url !== "string" && !(url instanceof URL)) throw invalidOption("url", expected, url)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalidOption("url", expected, String(url))
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw invalidOption("url", "an http: or https: URL", String(url))
  }
  if (parsed.username !== "" || parsed.password !== "") {
    const shown = `${parsed.protocol}//***@${parsed.host}${parsed.pathname}`
    throw invalidOption("url", "a URL without credentials (pass them as basicAuth)", shown)
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    throw invalidOption("url", "a URL without a query or a fragment", String(url))
  }
  // A gateway may sit under a path prefix: keep it, without its trailing slash.
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`
}

function authorizationHeader(basicAuth: unknown, token: unknown): string | undefined {
  if (basicAuth !== undefined && token !== undefined) {
    throw invalidSecret("token", "left out when basicAuth is given (give one of the two)", token)
  }
  if (token !== undefined) {
    if (typeof token !== "string" || token === "" || /[\r\n]/.test(token)) {
      throw invalidSecret("token", "a non-empty string on one line", token)
    }
    return `Bearer ${token}`
  }
  if (basicAuth === undefined) return undefined
  if (typeof basicAuth !== "object" || basicAuth === null || Array.isArray(basicAuth)) {
    throw invalidSecret("basicAuth", "an object { user, password }", basicAuth)
  }
  const { user, password } = basicAuth as Record<string, unknown>
  if (typeof user !== "string") {
    const hint = "username" in basicAuth ? "; the key is user, not username" : ""
    throw invalidOption(
      "basicAuth.user",
      `a string (required: basicAuth is { user, password }${hint})`,
      user,
    )
  }
  if (user.includes(":")) {
    throw invalidOption("basicAuth.user", "a string without ':' (RFC 7617)", user)
  }
  if (typeof password !== "string") {
    throw invalidSecret(
      "basicAuth.password",
      "a string (required: basicAuth is { user, password })",
      password,
    )
  }
  return `Basic ${base64(`${user}:${password}`)}`
}

/** `invalidOption` for a secret: a string is described by its length, never echoed. */
function invalidSecret(option: string, expected: string, received: unknown): TypeError {
  const given =
    typeof received !== "string"
      ? describeValue(received)
      : received === ""
        ? "an empty string"
        : `a string of ${received.length} character${received.length === 1 ? "" : "s"}`
  return Object.assign(new TypeError(`option ${option} must be ${expected}, got ${given}`), {
    code: "ERR_INVALID_OPTION",
  })
}

function base64(text: string): string {
  let binary = ""
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary)
}

import {
  deadline,
  InvalidServiceNameError,
  type QueryOptions,
  readScaleLabels,
  ServiceNotFoundError,
  type ServiceQuery,
  type ServiceQueryResponse,
} from "@scale-from-zero/core"
import {
  OpenFaaSCredentialsError,
  type OpenFaaSOperation,
  OpenFaaSProviderError,
} from "./errors.js"

export interface OpenFaaSBasicAuth {
  user: string
  password: string
}

export interface OpenFaaSServiceQueryOptions {
  /** The OpenFaaS gateway or faas-provider, e.g. `http://gateway.openfaas:8080`. */
  url: string | URL
  /** Credentials for the `/system/` endpoints (the gateway's basic-auth secret). */
  basicAuth?: OpenFaaSBasicAuth
  /** A bearer token, for gateways behind OIDC/IAM; exclusive with `basicAuth`. */
  token?: string
  /** The fetch to call; default the global one. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>
  /** Milliseconds one call (answer and body) may take at most. Default 5000. */
  timeout?: number
}

export const DEFAULT_OPENFAAS_TIMEOUT = 5000
/** A function status is a few kilobytes; more than this is not a faas-provider answer. */
const MAX_STATUS_BYTES = 1024 * 1024
/** What is read of a failed answer: enough for an error message, never the whole of a large page. */
const MAX_ERROR_BODY_BYTES = 2048
const MAX_EXCERPT_CHARS = 200

interface Call {
  readonly operation: OpenFaaSOperation
  readonly service: string
  readonly namespace: string
}

/**
 * A ServiceQuery over the faas-provider REST API, which both the OpenFaaS gateway and every
 * provider (faas-netes, faasd, …) serve. Uses `fetch` alone, so it runs on Node, Deno, Bun
 * and Cloudflare Workers. It offers no `watch`: the scaler polls `getReplicas`.
 */
export function createOpenFaaSServiceQuery(options: OpenFaaSServiceQueryOptions): ServiceQuery {
  const base = baseUrl(options.url)
  const timeout = options.timeout ?? DEFAULT_OPENFAAS_TIMEOUT
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new RangeError(`timeout must be a positive number of milliseconds, got ${timeout}`)
  }
  const authorization = authorizationHeader(options)
  const fetchFunction = options.fetch ?? ((input, init) => fetch(input, init))

  /**
   * One HTTP exchange bounded by the timeout and the caller's signal; `handle` reads the
   * answer while both still apply. Leaves no timer or listener behind.
   */
  const exchange = async <T>(
    call: Call,
    path: string,
    init: RequestInit,
    callerSignal: AbortSignal | undefined,
    handle: (response: Response) => Promise<T>,
  ): Promise<T> => {
    callerSignal?.throwIfAborted()
    const bounded = deadline(
      timeout,
      callerSignal,
      () => new DOMException(`no answer within ${timeout}ms`, "TimeoutError"),
    )
    try {
      const headers: Record<string, string> = { accept: "application/json" }
      if (init.body !== undefined) headers["content-type"] = "application/json"
      if (authorization !== undefined) headers.authorization = authorization
      const response = await fetchFunction(`${base}${path}`, {
        ...init,
        headers,
        signal: bounded.signal,
      })
      return await handle(response)
    } catch (error) {
      if (callerSignal?.aborted) throw callerSignal.reason
      if (error instanceof OpenFaaSProviderError || error instanceof ServiceNotFoundError) {
        throw error
      }
      const what = `${describe(call)}: the OpenFaaS provider at ${base}`
      if (bounded.signal.aborted) {
        throw new OpenFaaSProviderError(`${what} did not answer within ${timeout}ms`, {
          ...call,
          cause: bounded.signal.reason,
        })
      }
      throw new OpenFaaSProviderError(`${what} could not be reached: ${messageOf(error)}`, {
        ...call,
        cause: error,
      })
    } finally {
      bounded.release()
    }
  }

  /** The error for an answer that is neither success nor 404; reads a short excerpt of its body. */
  const failure = async (call: Call, response: Response): Promise<OpenFaaSProviderError> => {
    const { bytes } = await readBounded(response, MAX_ERROR_BODY_BYTES)
    const bodyExcerpt = excerpt(new TextDecoder().decode(bytes))
    const details = { ...call, status: response.status, bodyExcerpt }
    const said = bodyExcerpt === "" ? "" : `: ${bodyExcerpt}`
    if (response.status === 401 || response.status === 403) {
      const given =
        authorization === undefined
          ? "no credentials were given (set basicAuth or token)"
          : "check basicAuth or token"
      return new OpenFaaSCredentialsError(
        `${describe(call)}: the OpenFaaS provider refused the credentials (${response.status}); ${given}${said}`,
        details,
      )
    }
    return new OpenFaaSProviderError(
      `${describe(call)}: the OpenFaaS provider answered ${response.status}${said}`,
      details,
    )
  }

  const notFound = (call: Call, response: Response) => {
    discard(response)
    return new ServiceNotFoundError(call.service, call.namespace)
  }

  return {
    async getReplicas(service, namespace, queryOptions?: QueryOptions) {
      const call: Call = { operation: "get-replicas", service, namespace }
      const path = `/system/function/${encodeName(service)}?namespace=${encodeURIComponent(namespace)}`
      return exchange(call, path, { method: "GET" }, queryOptions?.signal, async (response) => {
        if (response.status === 404) throw notFound(call, response)
        if (response.status !== 200) throw await failure(call, response)
        const { bytes, complete } = await readBounded(response, MAX_STATUS_BYTES)
        if (!complete) {
          throw new OpenFaaSProviderError(
            `${describe(call)}: the function status is larger than ${MAX_STATUS_BYTES} bytes`,
            { ...call, status: 200 },
          )
        }
        const text = new TextDecoder().decode(bytes)
        let status: unknown
        try {
          status = JSON.parse(text)
        } catch (error) {
          throw malformed(call, `the answer is not JSON (${messageOf(error)})`, text)
        }
        return toServiceQueryResponse(call, status, text)
      })
    },

    async setReplicas(service, namespace, count, queryOptions?: QueryOptions) {
      if (!Number.isSafeInteger(count) || count < 0) {
        throw new RangeError(`replicas must be a non-negative integer, got ${count}`)
      }
      const call: Call = { operation: "set-replicas", service, namespace }
      const path = `/system/scale-function/${encodeName(service)}?namespace=${encodeURIComponent(namespace)}`
      // faas-netes reads the namespace from the query, faasd from the body: send both.
      const body = JSON.stringify({ serviceName: service, replicas: count, namespace })
      await exchange(
        call,
        path,
        { method: "POST", body },
        queryOptions?.signal,
        async (response) => {
          if (response.status === 200 || response.status === 202) {
            discard(response)
            return
          }
          if (response.status === 404) throw notFound(call, response)
          throw await failure(call, response)
        },
      )
    },
  }
}

function baseUrl(url: string | URL): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`url must be an absolute http(s) URL, got ${JSON.stringify(String(url))}`)
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`url must use http or https, got ${parsed.protocol}`)
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new TypeError("url must not carry credentials: pass them as basicAuth")
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    throw new TypeError("url must not carry a query or a fragment")
  }
  // A gateway may sit under a path prefix: keep it, without its trailing slash.
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`
}

function authorizationHeader(options: OpenFaaSServiceQueryOptions): string | undefined {
  const { basicAuth, token } = options
  if (basicAuth !== undefined && token !== undefined) {
    throw new TypeError("give basicAuth or token, not both")
  }
  if (token !== undefined) {
    if (token === "" || /[\r\n]/.test(token)) throw new TypeError("token must be a non-empty line")
    return `Bearer ${token}`
  }
  if (basicAuth === undefined) return undefined
  if (basicAuth.user.includes(":")) {
    throw new TypeError("basicAuth.user must not contain ':' (RFC 7617)")
  }
  return `Basic ${base64(`${basicAuth.user}:${basicAuth.password}`)}`
}

function base64(text: string): string {
  let binary = ""
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/**
 * The name as one path segment. Percent-encoding keeps `/`, `?` and `#` inside the segment;
 * `.` and `..` cannot be encoded away (URL parsers resolve `%2e` too), so they are refused.
 */
function encodeName(service: string): string {
  if (service === "" || service === "." || service === "..") {
    throw new InvalidServiceNameError(service, "name", "it is not a path segment")
  }
  return encodeURIComponent(service)
}

function toServiceQueryResponse(call: Call, status: unknown, text: string): ServiceQueryResponse {
  if (!isRecord(status)) throw malformed(call, "the answer is not a JSON object", text)
  // Go's omitempty leaves a zero count out: a missing key is 0.
  const replicas = count(call, status, "replicas", text)
  const availableReplicas = count(call, status, "availableReplicas", text)
  const labels = stringMap(call, status, "labels", text)
  const annotations = stringMap(call, status, "annotations", text)
  let limits: ReturnType<typeof readScaleLabels>
  try {
    limits = readScaleLabels(labels)
  } catch (error) {
    throw new OpenFaaSProviderError(`${describe(call)}: ${messageOf(error)}`, {
      ...call,
      status: 200,
      cause: error,
    })
  }
  return {
    replicas,
    availableReplicas,
    ...limits,
    ...(labels && { labels }),
    ...(annotations && { annotations }),
  }
}

function count(call: Call, status: Record<string, unknown>, key: string, text: string): number {
  const value = status[key]
  if (value === undefined || value === null) return 0
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(call, `${key} is not a non-negative integer`, text)
  }
  return value
}

function stringMap(
  call: Call,
  status: Record<string, unknown>,
  key: string,
  text: string,
): Record<string, string> | undefined {
  const value = status[key]
  if (value === undefined || value === null) return undefined
  if (!isRecord(value) || Object.values(value).some((entry) => typeof entry !== "string")) {
    throw malformed(call, `${key} is not a map of strings`, text)
  }
  return { ...(value as Record<string, string>) }
}

function malformed(call: Call, reason: string, text: string): OpenFaaSProviderError {
  const bodyExcerpt = excerpt(text)
  return new OpenFaaSProviderError(`${describe(call)}: malformed function status, ${reason}`, {
    ...call,
    status: 200,
    bodyExcerpt,
  })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

function describe(call: Call): string {
  return `${call.operation} ${call.service}.${call.namespace}`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > MAX_EXCERPT_CHARS ? `${flat.slice(0, MAX_EXCERPT_CHARS)}…` : flat
}

/** Lets the connection go without reading an answer we do not need. */
function discard(response: Response): void {
  response.body?.cancel().catch(() => {})
}

/** Reads at most `limit` bytes of the body, then cancels the rest. */
async function readBounded(
  response: Response,
  limit: number,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (response.body === null) return { bytes: new Uint8Array(0), complete: true }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let complete = true
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (size + value.byteLength > limit) {
        chunks.push(value.subarray(0, limit - size))
        size = limit
        complete = false
        await reader.cancel().catch(() => {})
        break
      }
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    reader.releaseLock()
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { bytes, complete }
}

import http, { type IncomingMessage } from "node:http"
import https from "node:https"
import type { ConnectionOptions } from "node:tls"
import {
  BackendError,
  type BackendErrorOptions,
  deadline,
  invalidOption,
  numberOption,
} from "@scale-from-zero/core/provider"

/** Where the Docker Engine API listens: a unix socket (the default) or TCP, optionally with TLS. */
export interface EngineEndpointOptions {
  /** Unix socket of the engine. Default `/var/run/docker.sock` (unless `host` is set). */
  socketPath?: string
  /** TCP host of the engine, instead of the socket (e.g. `127.0.0.1`). */
  host?: string
  /** TCP port. Default 2376 with `tls`, else 2375. */
  port?: number
  /** TLS for TCP: `true` for the system CAs, or options with `ca`, `cert`, `key`. */
  tls?: boolean | ConnectionOptions
  /** API version prefix. Default `v1.41` (Docker 20.10+, Podman 3+). */
  apiVersion?: string
  /** Milliseconds one API call may take before it fails. Default 10 000. */
  requestTimeoutMs?: number
}

export const DEFAULT_SOCKET_PATH = "/var/run/docker.sock"
export const DEFAULT_API_VERSION = "v1.41"
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** Largest JSON answer read from the engine; a container list of thousands stays far below it. */
const MAX_BODY_BYTES = 32 * 1024 * 1024

/**
 * The engine could not be reached, did not answer in time, or answered with an error status.
 * `endpoint` is the engine's address (`unix:///var/run/docker.sock`, `https://host:port`),
 * `status` the HTTP status it answered with, when it answered.
 */
export class DockerEngineError extends BackendError {
  override readonly name: string = "DockerEngineError"
  declare readonly endpoint: string
  constructor(message: string, options: BackendErrorOptions & { endpoint: string }) {
    super(message, options)
  }
}

export interface EngineRequest {
  method: "GET" | "POST"
  /** Path below the version prefix: `/containers/json`. */
  path: string
  query?: Record<string, string>
  signal?: AbortSignal | undefined
  /** Overrides `requestTimeoutMs` (a stop waits for its grace period). */
  timeoutMs?: number
}

export interface EngineResponse {
  status: number
  body: unknown
}

export interface Engine {
  readonly endpoint: string
  call(request: EngineRequest): Promise<EngineResponse>
  /** Opens a streaming GET; resolves once the engine answers 200 with the open response. */
  stream(path: string, query: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage>
  /** Closes idle keep-alive sockets. */
  close(): void
}

/** Checks the endpoint options a JavaScript caller may have got wrong, naming the option. */
function checkEndpointOptions(options: EngineEndpointOptions) {
  for (const option of ["socketPath", "host", "apiVersion"] as const) {
    const value = options[option]
    if (value !== undefined && (typeof value !== "string" || value === "")) {
      throw invalidOption(option, "a non-empty string", value)
    }
  }
  if (options.apiVersion !== undefined && !/^v\d+\.\d+$/.test(options.apiVersion)) {
    throw invalidOption("apiVersion", "a version like v1.41", options.apiVersion)
  }
  const port = numberOption("port", options.port, 2375, "positive integer")
  if (port > 65_535) throw invalidOption("port", "a TCP port (1..65535)", port)
  const tls = options.tls
  if (tls !== undefined && typeof tls !== "boolean" && (typeof tls !== "object" || tls === null)) {
    throw invalidOption("tls", "a boolean or TLS options", tls)
  }
}

export function createEngine(options: EngineEndpointOptions): Engine {
  checkEndpointOptions(options)
  const tls = options.tls
  const useTls = options.host !== undefined && tls !== undefined && tls !== false
  const socketPath =
    options.host === undefined ? (options.socketPath ?? DEFAULT_SOCKET_PATH) : undefined
  const port = options.port ?? (useTls ? 2376 : 2375)
  const endpoint =
    socketPath !== undefined
      ? `unix://${socketPath}`
      : `${useTls ? "https" : "http"}://${options.host}:${port}`
  const prefix = `/${options.apiVersion ?? DEFAULT_API_VERSION}`
  const requestTimeoutMs = numberOption(
    "requestTimeoutMs",
    options.requestTimeoutMs,
    DEFAULT_REQUEST_TIMEOUT_MS,
    "positive",
  )
  const transport = useTls ? https : http
  const agent = useTls
    ? new https.Agent({ keepAlive: true, ...(typeof tls === "object" ? tls : {}) })
    : new http.Agent({ keepAlive: true })

  const fail = (message: string, status?: number, cause?: unknown) =>
    new DockerEngineError(`docker engine at ${endpoint}: ${message}`, {
      endpoint,
      ...(status !== undefined && { status }),
      ...(cause !== undefined && { cause }),
    })

  /** Sends the request; resolves with the response once its headers arrive. */
  const open = (
    method: string,
    path: string,
    query: Record<string, string> | undefined,
    signal: AbortSignal,
  ) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const search = query ? `?${new URLSearchParams(query)}` : ""
      const request = transport.request(
        {
          agent,
          method,
          path: `${prefix}${path}${search}`,
          ...(socketPath !== undefined
            ? { socketPath, host: "localhost" }
            : { host: options.host, port }),
          headers: { accept: "application/json" },
          signal,
        },
        resolve,
      )
      request.on("error", (error) =>
        reject(
          signal.aborted
            ? signal.reason
            : fail(`${method} ${path}: ${error.message}`, undefined, error),
        ),
      )
      request.end()
    })

  const readBody = (response: IncomingMessage, signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_BODY_BYTES) {
          response.destroy(fail(`answer larger than ${MAX_BODY_BYTES} bytes`))
          return
        }
        chunks.push(chunk)
      })
      response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
      // Closed before its end without an error event: the promise must settle all the same.
      response.on("close", () => {
        if (!response.complete) {
          reject(signal.aborted ? signal.reason : fail("connection closed before the answer ended"))
        }
      })
      response.on("error", (error) =>
        reject(
          signal.aborted
            ? signal.reason
            : error instanceof DockerEngineError
              ? error
              : fail(error.message, undefined, error),
        ),
      )
    })

  /** A signal that aborts with the caller's reason, or with a timeout error after `ms`. */
  const bound = (what: string, ms: number, outer: AbortSignal | undefined) =>
    deadline(ms, outer, () => fail(`${what} did not answer within ${ms}ms`))

  return {
    endpoint,
    async call({ method, path, query, signal, timeoutMs }) {
      const limit = bound(`${method} ${path}`, timeoutMs ?? requestTimeoutMs, signal)
      try {
        limit.signal.throwIfAborted()
        const response = await open(method, path, query, limit.signal)
        const text = await readBody(response, limit.signal)
        const status = response.statusCode ?? 0
        const body = parseJson(text)
        if (status >= 400) {
          const reason =
            typeof body === "object" && body !== null && "message" in body
              ? String(body.message)
              : text.trim() || (response.statusMessage ?? "")
          throw fail(`${method} ${path} answered ${status}: ${reason}`, status)
        }
        return { status, body }
      } finally {
        limit.release()
      }
    },
    async stream(path, query, signal) {
      // Only the wait for the headers is bounded: the caller destroys the response when done.
      const limit = bound(`GET ${path}`, requestTimeoutMs, signal)
      try {
        limit.signal.throwIfAborted()
        const response = await open("GET", path, query, limit.signal)
        if (response.statusCode !== 200) {
          const text = await readBody(response, limit.signal)
          throw fail(
            `GET ${path} answered ${response.statusCode}: ${text.trim()}`,
            response.statusCode,
          )
        }
        return response
      } finally {
        limit.release()
      }
    },
    close() {
      agent.destroy()
    },
  }
}

function parseJson(text: string): unknown {
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * A faas-provider SIMULATOR for tests: an HTTP server on 127.0.0.1 that answers the
 * faas-provider REST API as faas-netes and faasd do (openfaas/faas-provider `serve.go`,
 * `types/`), with functions that become available some time after a scale call.
 * It is not an OpenFaaS installation and is not part of the package's public entry.
 *
 * Faithful to the provider in: basic auth on `/system/` routes (401, `WWW-Authenticate`,
 * "invalid credentials"); `FunctionStatus` JSON with Go `omitempty` (a zero `replicas` or
 * `availableReplicas` and absent labels/annotations are left out); 404 with an empty body for
 * an unknown function; the router's name expression `[-a-zA-Z_0-9.]+` (anything else is
 * "404 page not found"); `ScaleServiceRequest` bodies; 405 for a wrong method.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { gzipSync } from "node:zlib"

export interface SimulatedFunctionDefinition {
  /** Desired replicas at the start; they are available at once. Default 0. */
  replicas?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  image?: string
  /** Milliseconds from a scale-up until the new replicas are available; overrides the simulator's. */
  startupDelayMs?: number
  /** Its answers are gzip-compressed (`Content-Encoding: gzip`) for a request that accepts gzip. */
  gzip?: boolean
}

export interface FaasProviderSimulatorOptions {
  /** Credentials the `/system/` routes demand; none when undefined (auth disabled). */
  basicAuth?: { user: string; password: string }
  /** Milliseconds from a scale-up until its replicas are available. Default 100. */
  startupDelayMs?: number
  /** Status of a successful scale call: faas-netes answers 202, faasd 200. Default 202. */
  scaleStatus?: 200 | 202
}

/** A canned answer for the next `/system/` request(s), to simulate a failing provider. */
export interface InjectedFault {
  status?: number
  body?: string
  /** Answer only after this many milliseconds (the request is held). */
  delayMs?: number
  /** How many requests it applies to. Default 1. */
  times?: number
}

export interface SimulatorRequest {
  method: string
  /** The raw request target, exactly as received (still percent-encoded). */
  target: string
  status: number
  /** When it arrived (`performance.now()`), to measure how often a client asks. */
  at: number
}

export interface SimulatorCounters {
  /** GET /system/function/{name} */
  status: number
  /** POST /system/scale-function/{name} */
  scale: number
  /** /function/{name}/… invocations */
  invoke: number
  /** requests refused for missing or wrong credentials */
  unauthorized: number
}

export interface FaasProviderSimulator {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  readonly url: string
  readonly counters: SimulatorCounters
  /** Every request received, in order. */
  readonly requests: readonly SimulatorRequest[]
  /** Requests being answered right now (held ones included). */
  readonly inFlight: number
  addFunction(name: string, namespace: string, definition?: SimulatedFunctionDefinition): void
  removeFunction(name: string, namespace: string): void
  /** The function's state as the provider would report it, or undefined. */
  status(
    name: string,
    namespace: string,
  ): { replicas: number; availableReplicas: number } | undefined
  injectFault(fault: InjectedFault): void
  close(): Promise<void>
}

interface SimulatedFunction {
  name: string
  namespace: string
  image: string
  labels: Record<string, string> | undefined
  annotations: Record<string, string> | undefined
  replicas: number
  availableReplicas: number
  startupDelayMs: number
  startTimer: ReturnType<typeof setTimeout> | undefined
  createdAt: string
  invocationCount: number
  gzip: boolean
}

const NAME = /^[-a-zA-Z_0-9.]+$/
const DEFAULT_NAMESPACE = "openfaas-fn"
const MAX_BODY_BYTES = 64 * 1024

export async function startFaasProviderSimulator(
  options: FaasProviderSimulatorOptions = {},
): Promise<FaasProviderSimulator> {
  const functions = new Map<string, SimulatedFunction>()
  const counters: SimulatorCounters = { status: 0, scale: 0, invoke: 0, unauthorized: 0 }
  const requests: SimulatorRequest[] = []
  const faults: InjectedFault[] = []
  const heldTimers = new Set<ReturnType<typeof setTimeout>>()
  const scaleStatus = options.scaleStatus ?? 202
  let inFlight = 0

  const key = (name: string, namespace: string) => `${name}\u0000${namespace}`

  const send = (
    response: ServerResponse,
    status: number,
    body = "",
    headers: Record<string, string> = {},
  ) => {
    if (response.destroyed) return
    response.writeHead(status, {
      ...(body !== "" && {
        "content-type": headers["content-type"] ?? "text/plain; charset=utf-8",
      }),
      ...headers,
      "content-length": String(Buffer.byteLength(body)),
    })
    response.end(body)
  }

  const authorized = (request: IncomingMessage) => {
    if (options.basicAuth === undefined) return true
    const header = request.headers.authorization ?? ""
    if (!header.startsWith("Basic ")) return false
    const decoded = Buffer.from(header.slice(6), "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    return (
      colon > -1 &&
      decoded.slice(0, colon) === options.basicAuth.user &&
      decoded.slice(colon + 1) === options.basicAuth.password
    )
  }

  const readBody = (request: IncomingMessage) =>
    new Promise<string | undefined>((resolve) => {
      const chunks: Buffer[] = []
      let size = 0
      request.on("data", (chunk: Buffer) => {
        size += chunk.byteLength
        if (size <= MAX_BODY_BYTES) chunks.push(chunk)
      })
      request.on("end", () =>
        resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks).toString("utf8") : undefined),
      )
      request.on("error", () => resolve(undefined))
    })

  const functionStatus = (fn: SimulatedFunction) => {
    // Field by field as types.FunctionStatus marshals, omitempty included.
    const status: Record<string, unknown> = { name: fn.name, image: fn.image }
    if (fn.namespace !== "") status.namespace = fn.namespace
    if (fn.labels !== undefined) status.labels = fn.labels
    if (fn.annotations !== undefined) status.annotations = fn.annotations
    if (fn.invocationCount !== 0) status.invocationCount = fn.invocationCount
    if (fn.replicas !== 0) status.replicas = fn.replicas
    if (fn.availableReplicas !== 0) status.availableReplicas = fn.availableReplicas
    status.createdAt = fn.createdAt
    return status
  }

  const scale = (fn: SimulatedFunction, replicas: number) => {
    clearTimeout(fn.startTimer)
    fn.startTimer = undefined
    fn.replicas = replicas
    if (replicas <= fn.availableReplicas) {
      fn.availableReplicas = replicas
      return
    }
    fn.startTimer = setTimeout(() => {
      fn.startTimer = undefined
      fn.availableReplicas = fn.replicas
    }, fn.startupDelayMs)
  }

  /** `/system/function/NAME` → NAME decoded, or undefined when the router would not match. */
  const routeName = (pathname: string, prefix: string): string | undefined => {
    if (!pathname.startsWith(prefix)) return undefined
    let name: string
    try {
      name = decodeURIComponent(pathname.slice(prefix.length))
    } catch {
      return undefined
    }
    return NAME.test(name) ? name : undefined
  }

  const handleSystem = async (
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
  ): Promise<number> => {
    if (!authorized(request)) {
      counters.unauthorized++
      send(response, 401, "invalid credentials", { "www-authenticate": 'Basic realm="Restricted"' })
      return 401
    }
    const fault = faults[0]
    if (fault !== undefined) {
      fault.times = (fault.times ?? 1) - 1
      if (fault.times <= 0) faults.shift()
      if (fault.delayMs !== undefined) {
        const held = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            heldTimers.delete(timer)
            response.off("close", onClose)
            resolve(true)
          }, fault.delayMs)
          const onClose = () => {
            clearTimeout(timer)
            heldTimers.delete(timer)
            resolve(false)
          }
          heldTimers.add(timer)
          response.once("close", onClose)
        })
        if (!held) return 0
      }
      if (fault.status !== undefined) {
        send(response, fault.status, fault.body ?? "")
        return fault.status
      }
    }
    const namespace = url.searchParams.get("namespace") || DEFAULT_NAMESPACE

    const statusName = routeName(url.pathname, "/system/function/")
    if (statusName !== undefined) {
      if (request.method !== "GET") return methodNotAllowed(response)
      counters.status++
      const fn = functions.get(key(statusName, namespace))
      if (fn === undefined) {
        send(response, 404)
        return 404
      }
      send(response, 200, JSON.stringify(functionStatus(fn)), {
        "content-type": "application/json",
      })
      return 200
    }

    const scaleName = routeName(url.pathname, "/system/scale-function/")
    if (scaleName !== undefined) {
      if (request.method !== "POST") return methodNotAllowed(response)
      counters.scale++
      const body = await readBody(request)
      let scaleRequest: unknown
      try {
        scaleRequest = JSON.parse(body ?? "")
      } catch {
        send(response, 400, "Cannot parse request. Please pass valid JSON.")
        return 400
      }
      const {
        serviceName,
        replicas,
        namespace: bodyNamespace,
      } = scaleRequest as Record<string, unknown>
      if (
        serviceName !== scaleName ||
        typeof replicas !== "number" ||
        !Number.isSafeInteger(replicas) ||
        replicas < 0 ||
        (bodyNamespace !== undefined && bodyNamespace !== "" && bodyNamespace !== namespace)
      ) {
        send(response, 400, "Invalid scale request: serviceName, replicas or namespace mismatch")
        return 400
      }
      const fn = functions.get(key(scaleName, namespace))
      if (fn === undefined) {
        send(response, 404)
        return 404
      }
      scale(fn, replicas)
      send(response, scaleStatus)
      return scaleStatus
    }

    send(response, 404, "404 page not found\n")
    return 404
  }

  const methodNotAllowed = (response: ServerResponse) => {
    send(response, 405)
    return 405
  }

  /** `/function/NAME[.NAMESPACE]/…`: answers (echoing path and body) only while a replica is available. */
  const handleInvoke = async (
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
  ): Promise<number> => {
    const segment = url.pathname.slice("/function/".length).split("/")[0] ?? ""
    const dot = segment.lastIndexOf(".")
    const [name, namespace] =
      dot > -1 ? [segment.slice(0, dot), segment.slice(dot + 1)] : [segment, DEFAULT_NAMESPACE]
    counters.invoke++
    const fn = functions.get(key(name, namespace))
    if (fn === undefined) {
      send(response, 404, `error finding function ${name}.${namespace}`)
      return 404
    }
    if (fn.availableReplicas === 0) {
      send(response, 503, `no endpoints available for: ${name}`)
      return 503
    }
    fn.invocationCount++
    const body = await readBody(request)
    const echo = body ? `: ${body}` : ""
    const answer = `hello from ${name}.${namespace} (${url.pathname}${url.search})${echo}`
    if (fn.gzip && /\bgzip\b/.test(request.headers["accept-encoding"] ?? "")) {
      const compressed = gzipSync(answer)
      response.writeHead(200, {
        "content-type": "text/plain; charset=utf-8",
        "content-encoding": "gzip",
        "content-length": String(compressed.length),
      })
      response.end(compressed)
    } else send(response, 200, answer)
    return 200
  }

  const server = createServer((request, response) => {
    const target = request.url ?? "/"
    const entry: SimulatorRequest = {
      method: request.method ?? "",
      target,
      status: 0,
      at: performance.now(),
    }
    requests.push(entry)
    inFlight++
    response.once("close", () => inFlight--)
    const url = new URL(target, "http://simulator")
    let answer: Promise<number> | number
    if (target.startsWith("/system/")) answer = handleSystem(request, response, url)
    else if (target.startsWith("/function/")) answer = handleInvoke(request, response, url)
    else {
      send(response, 404, "404 page not found\n")
      answer = 404
    }
    Promise.resolve(answer).then(
      (status) => {
        entry.status = status
      },
      () => send(response, 500, "simulator failure"),
    )
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    counters,
    requests,
    get inFlight() {
      return inFlight
    },
    addFunction(name, namespace, definition = {}) {
      const replicas = definition.replicas ?? 0
      functions.set(key(name, namespace), {
        name,
        namespace,
        image: definition.image ?? `ghcr.io/openfaas/${name}:latest`,
        labels: definition.labels,
        annotations: definition.annotations,
        replicas,
        availableReplicas: replicas,
        startupDelayMs: definition.startupDelayMs ?? options.startupDelayMs ?? 100,
        startTimer: undefined,
        createdAt: new Date().toISOString(),
        invocationCount: 0,
        gzip: definition.gzip ?? false,
      })
    },
    removeFunction(name, namespace) {
      const fn = functions.get(key(name, namespace))
      clearTimeout(fn?.startTimer)
      functions.delete(key(name, namespace))
    },
    status(name, namespace) {
      const fn = functions.get(key(name, namespace))
      return fn && { replicas: fn.replicas, availableReplicas: fn.availableReplicas }
    },
    injectFault(fault) {
      faults.push({ ...fault })
    },
    close() {
      for (const fn of functions.values()) clearTimeout(fn.startTimer)
      for (const timer of heldTimers) clearTimeout(timer)
      heldTimers.clear()
      return new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

import * as grpc from "@grpc/grpc-js"
import { fromJSON } from "@grpc/proto-loader"
import type { Gate, ServiceQuery, SharedConcurrency } from "@scale-from-zero/core"
import { asError, invalidOption, numberOption } from "@scale-from-zero/core/provider"
import protobuf from "protobufjs"
import { EXTERNAL_SCALER_PROTO } from "./protocol.js"

export interface KedaScalerOptions {
  /** The gate whose held and in-flight requests are served (create it with `countInFlight: true`). */
  gate: Pick<Gate, "status" | "scaler">
  /**
   * Counts summed over every gateway instance (`@scale-from-zero/redis`): each instance's scaler
   * publishes its own, so KEDA may ask any of them. Default: this gate's counts only.
   */
  shared?: SharedConcurrency
  /** Requests (held + in flight) per replica KEDA aims for; a trigger's `targetConcurrency` overrides it. Default 10. */
  targetConcurrency?: number
  /** The metric's name in GetMetricSpec and GetMetrics. Default `"requests"`. */
  metricName?: string
  /** Milliseconds between StreamIsActive's looks at the counts; a change is pushed on the next. Default 50. */
  pushIntervalMs?: number
  /** Milliseconds between publications of this instance's counts (with `shared`). Default 1000. */
  publishIntervalMs?: number
}

export interface KedaScaler {
  /** The gRPC server, with the ExternalScaler service added; `listen` starts it. */
  readonly server: grpc.Server
  /**
   * Binds `address` (default `0.0.0.0:9090`) with `credentials` (default insecure: inside the
   * cluster, or pass `grpc.ServerCredentials.createSsl(...)`); resolves with the bound port.
   */
  listen(address?: string, credentials?: grpc.ServerCredentials): Promise<number>
  /** Ends every stream, stops publishing and shuts the server down. */
  close(): Promise<void>
}

export const DEFAULT_TARGET_CONCURRENCY = 10
export const DEFAULT_METRIC_NAME = "requests"
export const DEFAULT_PUSH_INTERVAL_MS = 50
export const DEFAULT_PUBLISH_INTERVAL_MS = 1_000
export const DEFAULT_ADDRESS = "0.0.0.0:9090"

interface ScaledObjectRef {
  name: string
  namespace: string
  scalerMetadata: Record<string, string>
}

/** The ExternalScaler service definition, loaded from the protocol text the package ships. */
function externalScalerService(): grpc.ServiceDefinition {
  const root = protobuf.parse(EXTERNAL_SCALER_PROTO, { keepCase: true }).root
  const definition = fromJSON(root.toJSON(), { keepCase: true, longs: Number, defaults: true })
  return definition["externalscaler.ExternalScaler"] as grpc.ServiceDefinition
}

/** A gRPC error KEDA logs: its code and a message naming the ScaledObject. */
const grpcError = (code: grpc.status, details: string) =>
  Object.assign(new Error(details), { code, details })

/**
 * A KEDA external scaler (`external` or `external-push` trigger) serving the gate's counts:
 * active while any request for the service is held or in flight; metric = held + in flight.
 * The trigger's metadata names the service: `service` (default: the ScaledObject's name) and
 * `namespace` (default: the ScaledObject's namespace).
 */
export function createKedaScaler(options: KedaScalerOptions): KedaScaler {
  if (typeof options !== "object" || options === null) {
    throw invalidOption("options", "an object such as { gate }", options)
  }
  const { gate, shared } = options
  if (typeof gate?.status !== "function" || typeof gate.scaler?.waiting !== "function") {
    throw invalidOption("gate", "a gate (scaleFromZero(...).gate or createGate(...))", gate)
  }
  if (
    shared !== undefined &&
    (typeof shared?.publishConcurrency !== "function" ||
      typeof shared.totalConcurrency !== "function")
  ) {
    throw invalidOption("shared", "a SharedConcurrency (such as Redis's)", shared)
  }
  const targetConcurrency = numberOption(
    "targetConcurrency",
    options.targetConcurrency,
    DEFAULT_TARGET_CONCURRENCY,
    "positive",
  )
  const metricName = options.metricName ?? DEFAULT_METRIC_NAME
  if (typeof metricName !== "string" || metricName === "") {
    throw invalidOption("metricName", "a non-empty string", metricName)
  }
  const pushIntervalMs = numberOption(
    "pushIntervalMs",
    options.pushIntervalMs,
    DEFAULT_PUSH_INTERVAL_MS,
    "positive",
  )
  const publishIntervalMs = numberOption(
    "publishIntervalMs",
    options.publishIntervalMs,
    DEFAULT_PUBLISH_INTERVAL_MS,
    "positive",
  )

  const streams = new Set<() => void>()
  /** What this instance last published per service (`shared` only), by `namespace/name`. */
  const published = new Map<string, number>()
  let publisher: ReturnType<typeof setInterval> | undefined

  /** The services KEDA asked about: counted even before the gate's status lists them. */
  const asked = new Map<string, { name: string; namespace: string }>()
  // The status lists a service once a request for it has been answered; a first cold start's
  // held requests are only in the scaler's waiting count until then.
  const localCounts = () => {
    const counts = new Map<string, number>()
    for (const entry of gate.status()) {
      counts.set(`${entry.namespace}/${entry.name}`, entry.held + (entry.inFlight ?? 0))
    }
    for (const [key, { name, namespace }] of asked) {
      if (!counts.has(key)) counts.set(key, gate.scaler.waiting(name, namespace))
    }
    return counts
  }

  const publish = async () => {
    if (shared === undefined) return
    const ttlMs = 3 * publishIntervalMs
    const counts = localCounts()
    for (const key of published.keys()) if (!counts.has(key)) counts.set(key, 0)
    await Promise.all(
      [...counts].map(async ([key, count]) => {
        if (count === 0 && (published.get(key) ?? 0) === 0) return
        const slash = key.indexOf("/")
        await shared.publishConcurrency(key.slice(slash + 1), key.slice(0, slash), count, ttlMs)
        if (count === 0) published.delete(key)
        else published.set(key, count)
      }),
    )
  }

  const target = (ref: ScaledObjectRef | undefined) => {
    if (ref === undefined || ref === null) {
      throw grpcError(grpc.status.INVALID_ARGUMENT, "no scaledObjectRef")
    }
    const metadata = ref.scalerMetadata ?? {}
    const name = metadata.service || ref.name
    const namespace = metadata.namespace || ref.namespace
    if (!name || !namespace) {
      throw grpcError(
        grpc.status.INVALID_ARGUMENT,
        `ScaledObject ${ref.namespace}/${ref.name}: no service named (trigger metadata "service")`,
      )
    }
    let target = targetConcurrency
    if (metadata.targetConcurrency !== undefined) {
      target = Number(metadata.targetConcurrency)
      if (!Number.isFinite(target) || target <= 0) {
        throw grpcError(
          grpc.status.INVALID_ARGUMENT,
          `ScaledObject ${ref.namespace}/${ref.name}: metadata targetConcurrency must be a positive number, got ${JSON.stringify(metadata.targetConcurrency)}`,
        )
      }
    }
    const key = `${namespace}/${name}`
    if (!asked.has(key)) {
      // Bounded: a trigger names a service; a flood of names forgets the oldest.
      if (asked.size >= 10_000) asked.delete(asked.keys().next().value as string)
      asked.set(key, { name, namespace })
    }
    return { name, namespace, target }
  }

  /** Held + in flight for the service: here now, plus what the other instances published. */
  const count = async (name: string, namespace: string) => {
    const key = `${namespace}/${name}`
    const here = localCounts().get(key) ?? 0
    if (shared === undefined) return here
    let total: number
    try {
      total = await shared.totalConcurrency(name, namespace)
    } catch (error) {
      throw grpcError(grpc.status.UNAVAILABLE, asError(error).message)
    }
    // This instance's own figure is taken live, not as last published.
    return here + Math.max(0, total - (published.get(key) ?? 0))
  }

  /** Runs a unary handler, answering its error as a gRPC status. */
  const unary =
    <Request, Response>(handle: (request: Request) => Promise<Response>) =>
    (
      call: grpc.ServerUnaryCall<Request, Response>,
      callback: grpc.sendUnaryData<Response>,
    ): void => {
      handle(call.request).then(
        (response) => callback(null, response),
        (error: unknown) => callback(asError(error) as grpc.ServiceError),
      )
    }

  const server = new grpc.Server()
  server.addService(externalScalerService(), {
    IsActive: unary(async (ref: ScaledObjectRef) => {
      const { name, namespace } = target(ref)
      return { result: (await count(name, namespace)) > 0 }
    }),
    GetMetricSpec: unary(async (ref: ScaledObjectRef) => {
      const { target: size } = target(ref)
      return {
        metricSpecs: [{ metricName, targetSize: Math.ceil(size), targetSizeFloat: size }],
      }
    }),
    GetMetrics: unary(async (request: { scaledObjectRef: ScaledObjectRef }) => {
      const { name, namespace } = target(request.scaledObjectRef)
      const value = await count(name, namespace)
      return { metricValues: [{ metricName, metricValue: value, metricValueFloat: value }] }
    }),
    StreamIsActive(call: grpc.ServerWritableStream<ScaledObjectRef, { result: boolean }>) {
      let service: ReturnType<typeof target>
      try {
        service = target(call.request)
      } catch (error) {
        call.destroy(asError(error))
        return
      }
      let last: boolean | undefined
      let looking = false
      const look = () => {
        if (looking) return
        looking = true
        count(service.name, service.namespace)
          .then(
            (value) => {
              const active = value > 0
              if (active !== last && !call.cancelled) {
                last = active
                call.write({ result: active })
              }
            },
            // A failed look (Redis away) is retried on the next tick; KEDA keeps the last answer.
            () => {},
          )
          .finally(() => {
            looking = false
          })
      }
      const timer = setInterval(look, pushIntervalMs)
      const end = () => {
        clearInterval(timer)
        streams.delete(end)
        if (!call.writableEnded) call.end()
      }
      streams.add(end)
      call.on("cancelled", end)
      call.on("close", end)
      look()
    },
  })

  return {
    server,
    listen(address = DEFAULT_ADDRESS, credentials = grpc.ServerCredentials.createInsecure()) {
      return new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (error, port) => {
          if (error) {
            reject(error)
            return
          }
          if (shared !== undefined && publisher === undefined) {
            publisher = setInterval(() => void publish().catch(() => {}), publishIntervalMs)
            publisher.unref()
          }
          resolve(port)
        })
      })
    },
    close() {
      clearInterval(publisher)
      publisher = undefined
      for (const end of [...streams]) end()
      return new Promise<void>((resolve) => {
        // Calls in flight get a moment to finish, then the server goes regardless.
        const force = setTimeout(() => {
          server.forceShutdown()
          resolve()
        }, 1_000)
        server.tryShutdown(() => {
          clearTimeout(force)
          resolve()
        })
      })
    },
  }
}

/**
 * The gateway's backend with KEDA owning replicas: reads and watches as `serviceQuery` does, and
 * asks for no replicas itself (KEDA activates the service once IsActive turns true; the wake then
 * waits for the replica KEDA starts). Use it with no `scaleToZero` and no `scaleOut`.
 */
export function leaveReplicasToKeda(serviceQuery: ServiceQuery): ServiceQuery {
  if (typeof serviceQuery?.getReplicas !== "function") {
    throw invalidOption("serviceQuery", "a ServiceQuery", serviceQuery)
  }
  const { watch, defaultNamespace } = serviceQuery
  const query: ServiceQuery = {
    getReplicas: (name, namespace, options) => serviceQuery.getReplicas(name, namespace, options),
    setReplicas: async () => {},
    ...(defaultNamespace !== undefined && { defaultNamespace }),
    ...(watch !== undefined && {
      watch: (...args: Parameters<typeof watch>) => watch.apply(serviceQuery, args),
    }),
  }
  return query
}

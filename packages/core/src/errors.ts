/** Thrown by a ServiceQuery for a service the backend does not know. */
export class ServiceNotFoundError extends Error {
  override readonly name = "ServiceNotFoundError"
  constructor(
    readonly service: string,
    readonly namespace: string,
    options?: ErrorOptions,
  ) {
    super(`service ${service}.${namespace} not found`, options)
  }
}

/** A service did not report a ready replica within the scaler's timeout. */
export class ScaleTimeoutError extends Error {
  override readonly name = "ScaleTimeoutError"
  constructor(
    readonly service: string,
    readonly namespace: string,
    readonly timeoutMs: number,
  ) {
    super(`service ${service}.${namespace} was not ready within ${timeoutMs}ms`)
  }
}

/** A request was shed because too many requests were already held. */
export class OverloadedError extends Error {
  override readonly name = "OverloadedError"
  constructor(
    readonly service: string,
    readonly namespace: string,
    readonly limit: number,
    readonly scope: "gateway" | "service",
  ) {
    super(
      scope === "gateway"
        ? `too many requests waiting for services to scale (limit ${limit})`
        : `too many requests waiting for ${service}.${namespace} to scale (limit ${limit})`,
    )
  }
}

/** A service name or namespace that no backend could hold (and that must never reach one). */
export class InvalidServiceNameError extends Error {
  override readonly name = "InvalidServiceNameError"
  constructor(
    readonly value: string,
    readonly field: "name" | "namespace",
    reason: string,
  ) {
    super(`invalid service ${field} ${JSON.stringify(value.slice(0, 80))}: ${reason}`)
  }
}

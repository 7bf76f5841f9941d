/**
 * Every error core raises or recognises carries a stable `code`. Core tells errors apart by
 * that code, never by `instanceof`: a provider built against one installed copy of core and a
 * gate from another must still agree that a service was not found.
 */
export const ERROR_CODES = Object.freeze({
  serviceNotFound: "ERR_SERVICE_NOT_FOUND",
  scaleTimeout: "ERR_SCALE_TIMEOUT",
  overloaded: "ERR_OVERLOADED",
  invalidServiceName: "ERR_INVALID_SERVICE_NAME",
  backend: "ERR_BACKEND",
  dependency: "ERR_DEPENDENCY",
  asleep: "ERR_SERVICE_ASLEEP",
  shuttingDown: "ERR_SHUTTING_DOWN",
  /** The primary of a `node:cluster` gave no answer, or the channel to it closed (`/node`). */
  cluster: "ERR_CLUSTER",
} as const)

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES]

/** True when `error` is an object whose `code` is `code`, from whichever copy of core made it. */
export function hasErrorCode(error: unknown, code: ErrorCode): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code
}

/** Thrown by a ServiceQuery for a service the backend does not know. */
export class ServiceNotFoundError extends Error {
  override readonly name = "ServiceNotFoundError"
  readonly code = ERROR_CODES.serviceNotFound
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
  readonly code = ERROR_CODES.scaleTimeout
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
  readonly code = ERROR_CODES.overloaded
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
  readonly code = ERROR_CODES.invalidServiceName
  constructor(
    readonly value: string,
    readonly field: "name" | "namespace",
    reason: string,
  ) {
    super(`invalid service ${field} ${JSON.stringify(value.slice(0, 80))}: ${reason}`)
  }
}

export interface BackendErrorOptions extends ErrorOptions {
  /** The error that caused this one (the network error, the backend's answer). */
  cause?: unknown
  /** The backend's address as the user configured it, named in the message: `http://gateway:8081`. */
  endpoint?: string
  /** The backend's own status code, when it answered with one. */
  status?: number
}

/**
 * The base of every provider's errors: the backend failed, refused or answered something
 * unexpected. Core answers a request that meets one with 502.
 */
export class BackendError extends Error {
  override readonly name: string = "BackendError"
  readonly code = ERROR_CODES.backend
  readonly endpoint: string | undefined
  readonly status: number | undefined
  constructor(message: string, options: BackendErrorOptions = {}) {
    super(message, options)
    this.endpoint = options.endpoint
    this.status = options.status
  }
}

/**
 * A service's dependencies cannot be woken as configured: a cycle, a dependency the backend
 * does not know, one that failed to start, or a malformed `scale-from-zero.depends-on` label.
 */
export class DependencyError extends Error {
  override readonly name = "DependencyError"
  readonly code = ERROR_CODES.dependency
}

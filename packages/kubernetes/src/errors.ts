import { ApiException } from "@kubernetes/client-node"
import {
  asError,
  BackendError,
  ERROR_CODES,
  hasErrorCode,
  ServiceNotFoundError,
} from "@scale-from-zero/core/provider"

/** What the gateway tried when the API server refused it: the RBAC rule it needs. */
export interface KubernetesAccess {
  verb: "get" | "list" | "watch" | "update"
  /** `deployments`, `statefulsets`, `deployments/scale`, `endpointslices`, … */
  resource: string
  /** The API group the rule names: `apps`, `discovery.k8s.io`. */
  group: string
  namespace: string
}

/**
 * The API server refused the gateway: 403 (its service account lacks an RBAC rule) or
 * 401 (its credentials were rejected). The message names the verb and resource to grant.
 */
export class KubernetesPermissionError extends BackendError {
  override readonly name = "KubernetesPermissionError"
  declare readonly status: 401 | 403
  readonly verb: KubernetesAccess["verb"]
  readonly resource: string
  readonly group: string
  readonly namespace: string
  constructor(
    status: 401 | 403,
    access: KubernetesAccess,
    serverMessage: string | undefined,
    options?: ErrorOptions,
  ) {
    const what = `${access.verb} ${access.resource} in namespace ${access.namespace}`
    super(
      status === 403
        ? `forbidden: the gateway may not ${what}; grant the verb "${access.verb}" on "${access.resource}" (apiGroup "${access.group}") in a Role bound to its service account` +
            (serverMessage ? ` (API server: ${serverMessage})` : "")
        : `unauthorized: the API server rejected the gateway's credentials while it tried to ${what}; check the service account token or kubeconfig user`,
      { ...options, status },
    )
    this.verb = access.verb
    this.resource = access.resource
    this.group = access.group
    this.namespace = access.namespace
  }
}

/** Any other answer of the API server that the provider cannot act on. */
export class KubernetesApiError extends BackendError {
  override readonly name = "KubernetesApiError"
  declare readonly status: number
  constructor(
    status: number,
    readonly reason: string | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, { ...options, status })
  }
}

/**
 * A watch that broke without an answer of the API server to name the failure (a refused or
 * reset connection): the message says which collection's watch it was.
 */
export class KubernetesWatchError extends BackendError {
  override readonly name = "KubernetesWatchError"
  readonly resource: string
  readonly namespace: string
  constructor(access: KubernetesAccess, cause: Error) {
    const what = `the watch of ${access.resource} in namespace ${access.namespace}`
    super(`${what} failed: ${cause.message}`, { cause })
    this.resource = access.resource
    this.namespace = access.namespace
  }
}

interface StatusBody {
  message?: string
  reason?: string
}

/** The HTTP status of a client error: ApiException's `code`, or the `statusCode` the Watch sets. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode
  return typeof statusCode === "number" ? statusCode : undefined
}

/** The API server's Status object; the client leaves it as text for answers its spec does not declare. */
function statusBody(error: unknown): StatusBody {
  const body = (error as { body?: unknown }).body
  if (typeof body === "object" && body !== null) return body as StatusBody
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body)
      if (typeof parsed === "object" && parsed !== null) return parsed as StatusBody
    } catch {
      // not a Status: keep the status code alone
    }
  }
  return {}
}

/**
 * Turns a client error into the error the scaler understands: 404 → ServiceNotFoundError,
 * 401/403 → KubernetesPermissionError naming the RBAC rule, other statuses → KubernetesApiError.
 * Network errors and aborts pass through unchanged.
 */
export function translateError(error: unknown, access: KubernetesAccess, service: string): unknown {
  const status = statusOf(error)
  if (status === undefined) return error
  const body = statusBody(error)
  if (status === 404) return new ServiceNotFoundError(service, access.namespace, { cause: error })
  if (status === 401 || status === 403) {
    return new KubernetesPermissionError(status, access, body.message, { cause: error })
  }
  return new KubernetesApiError(
    status,
    body.reason,
    `Kubernetes API answered ${status}${body.reason ? ` ${body.reason}` : ""} to ${access.verb} ${access.resource} in namespace ${access.namespace}${body.message ? `: ${body.message}` : ""}`,
    { cause: error },
  )
}

/** Why a watch of `access` stopped, as a provider error that names the collection. */
export function watchFailure(error: unknown, access: KubernetesAccess): Error {
  const translated = translateError(error, access, access.namespace)
  // API errors (403 naming the verb, other statuses, timeouts) already say what failed.
  const reason = asError(translated)
  return hasErrorCode(reason, ERROR_CODES.backend)
    ? reason
    : new KubernetesWatchError(access, reason)
}

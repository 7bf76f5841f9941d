import { BackendError } from "@scale-from-zero/core/provider"

/** Which provider call failed. */
export type OpenFaaSOperation = "get-replicas" | "set-replicas"

export interface OpenFaaSProviderErrorDetails {
  operation: OpenFaaSOperation
  service: string
  namespace: string
  /** The provider's address as configured (`url`, without a trailing slash). */
  endpoint: string
  /** The provider's HTTP status; undefined when no answer came (network failure, timeout). */
  status?: number
  /** The start of the provider's answer, at most a few hundred characters. */
  bodyExcerpt?: string
  cause?: unknown
}

/**
 * The OpenFaaS provider (or gateway) failed a call: an unexpected status, a malformed
 * answer, a network failure or a timeout. A `BackendError` (code `ERR_BACKEND`, with
 * `endpoint` and `status`): any error from this package but a not-found (code
 * `ERR_SERVICE_NOT_FOUND`) and the caller's own abort reason is one of these.
 */
export class OpenFaaSProviderError extends BackendError {
  override readonly name: string = "OpenFaaSProviderError"
  readonly operation: OpenFaaSOperation
  readonly service: string
  readonly namespace: string
  readonly bodyExcerpt: string | undefined

  constructor(message: string, details: OpenFaaSProviderErrorDetails) {
    super(message, {
      endpoint: details.endpoint,
      ...(details.status !== undefined && { status: details.status }),
      ...(details.cause !== undefined && { cause: details.cause }),
    })
    this.operation = details.operation
    this.service = details.service
    this.namespace = details.namespace
    this.bodyExcerpt = details.bodyExcerpt
  }
}

/** The provider answered 401 or 403: the basic-auth credentials or token were refused. */
export class OpenFaaSCredentialsError extends OpenFaaSProviderError {
  override readonly name = "OpenFaaSCredentialsError"
}

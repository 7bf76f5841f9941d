/** Which provider call failed. */
export type OpenFaaSOperation = "get-replicas" | "set-replicas"

export interface OpenFaaSProviderErrorDetails {
  operation: OpenFaaSOperation
  service: string
  namespace: string
  /** The provider's HTTP status; undefined when no answer came (network failure, timeout). */
  status?: number
  /** The start of the provider's answer, at most a few hundred characters. */
  bodyExcerpt?: string
  cause?: unknown
}

/**
 * The OpenFaaS provider (or gateway) failed a call: an unexpected status, a malformed
 * answer, a network failure or a timeout. Any error from this package but
 * `ServiceNotFoundError` (from core) and the caller's own abort reason is one of these.
 */
export class OpenFaaSProviderError extends Error {
  override readonly name: string = "OpenFaaSProviderError"
  readonly operation: OpenFaaSOperation
  readonly service: string
  readonly namespace: string
  readonly status: number | undefined
  readonly bodyExcerpt: string | undefined

  constructor(message: string, details: OpenFaaSProviderErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.operation = details.operation
    this.service = details.service
    this.namespace = details.namespace
    this.status = details.status
    this.bodyExcerpt = details.bodyExcerpt
  }
}

/** The provider answered 401 or 403: the basic-auth credentials or token were refused. */
export class OpenFaaSCredentialsError extends OpenFaaSProviderError {
  override readonly name = "OpenFaaSCredentialsError"
}

/** What a backend reports about one service. */
export interface ServiceQueryResponse {
  /** Desired replicas. */
  replicas: number
  /** Replicas ready to serve traffic. */
  availableReplicas: number
  minReplicas: number
  maxReplicas: number
  scalingFactor: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

export interface QueryOptions {
  /** Ends the call: it rejects with the signal's reason. */
  signal?: AbortSignal
}

export interface WatchOptions extends QueryOptions {
  /**
   * Called when the backend cannot tell the watched service's status any more (say, it is
   * unreachable): the scaler then ends the wait with this error instead of waiting it out.
   */
  onError?: (error: Error) => void
}

/**
 * A backend that can report and change a service's replicas: the OpenFaaS
 * provider API, Kubernetes, Docker, local processes, memory.
 * Throw `ServiceNotFoundError` for an unknown service; any other error is a provider error.
 */
export interface ServiceQuery {
  getReplicas(
    service: string,
    namespace: string,
    options?: QueryOptions,
  ): Promise<ServiceQueryResponse>
  setReplicas(
    service: string,
    namespace: string,
    count: number,
    options?: QueryOptions,
  ): Promise<void>
  /**
   * The namespace this backend puts a service in when none is named (a provider without
   * OpenFaaS's `openfaas-fn`, e.g. `default`). The gate uses it when its own
   * `defaultNamespace` option is not given.
   */
  readonly defaultNamespace?: string
  /** Optional push: call `onChange` on every status change until `options.signal` aborts. */
  watch?(
    service: string,
    namespace: string,
    onChange: (response: ServiceQueryResponse) => void,
    options?: WatchOptions,
  ): void
}

import {
  AppsV1Api,
  type ConfigurationOptions,
  DiscoveryV1Api,
  type KubeConfig,
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1Deployment,
  type V1EndpointSlice,
  type V1Scale,
  type V1StatefulSet,
} from "@kubernetes/client-node"
import { BackendError, deadline } from "@scale-from-zero/core/provider"
import { type KubernetesAccess, translateError } from "./errors.js"

export type WorkloadKind = "Deployment" | "StatefulSet"
export type Workload = V1Deployment | V1StatefulSet

export const SERVICE_NAME_LABEL = "kubernetes.io/service-name"

export const WORKLOAD_RESOURCE: Record<WorkloadKind, "deployments" | "statefulsets"> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
}

export interface Listed<T> {
  items: T[]
  resourceVersion: string
}

/** The few API calls the provider makes, each bounded by a deadline and translated into provider errors. */
export interface KubernetesApi {
  readonly kubeConfig: KubeConfig
  readonly kind: WorkloadKind
  readWorkload(name: string, namespace: string, signal?: AbortSignal): Promise<Workload>
  listWorkloads(namespace: string, signal?: AbortSignal): Promise<Listed<Workload>>
  readScale(name: string, namespace: string, signal?: AbortSignal): Promise<V1Scale>
  replaceScale(
    name: string,
    namespace: string,
    scale: V1Scale,
    signal?: AbortSignal,
  ): Promise<V1Scale>
  /** EndpointSlices of one Service, or of every Service in the namespace when `service` is undefined. */
  listEndpointSlices(
    namespace: string,
    service: string | undefined,
    signal?: AbortSignal,
  ): Promise<Listed<V1EndpointSlice>>
}

export class KubernetesTimeoutError extends BackendError {
  override readonly name = "KubernetesTimeoutError"
  constructor(readonly timeoutMs: number) {
    super(`the Kubernetes API did not answer within ${timeoutMs}ms`)
  }
}

/** Per-call options that hand the request an AbortSignal (the client's fetch takes it from the RequestContext). */
function signalOptions(signal: AbortSignal): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(signal)
      return new Observable(Promise.resolve(context))
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  }
  return { middleware: [middleware], middlewareMergeStrategy: "append" }
}

/** Runs `request` with a signal that aborts on the caller's signal or after `timeoutMs`; leaves no timer behind. */
export async function withDeadline<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  request: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted()
  const bounded = deadline(timeoutMs, signal, () => new KubernetesTimeoutError(timeoutMs))
  try {
    return await request(bounded.signal)
  } catch (error) {
    // The HTTP client rejects with its own AbortError: answer with the reason instead.
    if (bounded.signal.aborted) throw bounded.signal.reason
    throw error
  } finally {
    bounded.release()
  }
}

export function createKubernetesApi(
  kubeConfig: KubeConfig,
  kind: WorkloadKind,
  requestTimeoutMs: number,
  fieldManager: string,
): KubernetesApi {
  const apps = kubeConfig.makeApiClient(AppsV1Api)
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api)
  const resource = WORKLOAD_RESOURCE[kind]

  const call = async <T>(
    access: KubernetesAccess,
    subject: string,
    signal: AbortSignal | undefined,
    request: (options: ConfigurationOptions) => Promise<T>,
  ): Promise<T> => {
    try {
      return await withDeadline(requestTimeoutMs, signal, (bounded) =>
        request(signalOptions(bounded)),
      )
    } catch (error) {
      throw translateError(error, access, subject)
    }
  }
  const appsAccess = (
    verb: KubernetesAccess["verb"],
    namespace: string,
    sub = "",
  ): KubernetesAccess => ({
    verb,
    resource: `${resource}${sub}`,
    group: "apps",
    namespace,
  })

  return {
    kubeConfig,
    kind,
    readWorkload(name, namespace, signal) {
      return call(appsAccess("get", namespace), name, signal, (options) =>
        kind === "Deployment"
          ? apps.readNamespacedDeployment({ name, namespace }, options)
          : apps.readNamespacedStatefulSet({ name, namespace }, options),
      )
    },
    async listWorkloads(namespace, signal) {
      const list = await call(appsAccess("list", namespace), namespace, signal, (options) =>
        kind === "Deployment"
          ? apps.listNamespacedDeployment({ namespace }, options)
          : apps.listNamespacedStatefulSet({ namespace }, options),
      )
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" }
    },
    readScale(name, namespace, signal) {
      return call(appsAccess("get", namespace, "/scale"), name, signal, (options) =>
        kind === "Deployment"
          ? apps.readNamespacedDeploymentScale({ name, namespace }, options)
          : apps.readNamespacedStatefulSetScale({ name, namespace }, options),
      )
    },
    replaceScale(name, namespace, body, signal) {
      return call(appsAccess("update", namespace, "/scale"), name, signal, (options) =>
        kind === "Deployment"
          ? apps.replaceNamespacedDeploymentScale({ name, namespace, body, fieldManager }, options)
          : apps.replaceNamespacedStatefulSetScale(
              { name, namespace, body, fieldManager },
              options,
            ),
      )
    },
    async listEndpointSlices(namespace, service, signal) {
      const access: KubernetesAccess = {
        verb: "list",
        resource: "endpointslices",
        group: "discovery.k8s.io",
        namespace,
      }
      const list = await call(access, service ?? namespace, signal, (options) =>
        discovery.listNamespacedEndpointSlice(
          {
            namespace,
            labelSelector:
              service === undefined ? SERVICE_NAME_LABEL : `${SERVICE_NAME_LABEL}=${service}`,
          },
          options,
        ),
      )
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" }
    },
  }
}

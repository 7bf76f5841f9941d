/**
 * A test-side CONTROLLER for the real kube-apiserver, which runs none: it plays the deployment
 * (or statefulset) controller and the endpoint-slice controller for one namespace. It watches
 * the workloads; when one's `spec.replicas` changes to N it writes, as those controllers would:
 *
 * 1. at once, the workload's status (N replicas, none ready) and the Service's EndpointSlice
 *    with N endpoints whose `ready` condition is false — the window in which a gateway that
 *    trusts anything else than ready endpoints answers 502;
 * 2. after `podReadyDelayMs`, the status with N ready (and available) replicas;
 * 3. after `endpointReadyDelayMs` more, the N endpoints ready.
 *
 * A scale down writes the smaller status and slice at once. Everything goes through the real
 * API (status subresource, discovery.k8s.io/v1), so the provider sees real watch events.
 */
import { randomUUID } from "node:crypto"
import { type KubeConfig, Watch } from "@kubernetes/client-node"
import { kube, kubeRequest } from "./kube-apiserver.js"

export type ControlledKind = "Deployment" | "StatefulSet"

export interface TestControllerOptions {
  /** Credentials allowed to write workload status and EndpointSlices (the admin context). */
  kubeConfig: KubeConfig
  namespace: string
  kind?: ControlledKind
  /** Milliseconds from a scale-up until the workload's status reports its pods ready. Default 30. */
  podReadyDelayMs?: number
  /** Milliseconds from the pods ready until their endpoints are ready. Default 30. */
  endpointReadyDelayMs?: number
}

export interface ControllerWrite {
  workload: string
  what: "status" | "slice"
  total: number
  ready: number
  /** performance.now() when the request was sent. */
  sentAt: number
}

export interface TestController {
  /**
   * Writes in the order they were sent (recorded as each request leaves, so that a watcher can
   * never have seen a write not yet listed): `status` or `slice`, with the replicas or endpoints ready.
   */
  readonly writes: ControllerWrite[]
  close(): Promise<void>
}

export interface WorkloadDefinition {
  /** Left out of the request when undefined (the API then defaults it to 1). */
  replicas?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  /** Labels of the pod template, besides `app: NAME`. */
  templateLabels?: Record<string, string>
  templateAnnotations?: Record<string, string>
}

const RESOURCE: Record<ControlledKind, string> = {
  Deployment: "deployments",
  StatefulSet: "statefulsets",
}

export const workloadPath = (kind: ControlledKind, namespace: string, name?: string) =>
  `/apis/apps/v1/namespaces/${namespace}/${RESOURCE[kind]}${name === undefined ? "" : `/${name}`}`

/** Creates a Deployment or StatefulSet with one container, as a user would apply it. */
export async function createWorkload(
  kubeConfig: KubeConfig,
  namespace: string,
  kind: ControlledKind,
  name: string,
  definition: WorkloadDefinition = {},
): Promise<void> {
  await kube(kubeConfig, "POST", workloadPath(kind, namespace), {
    apiVersion: "apps/v1",
    kind,
    metadata: {
      name,
      labels: definition.labels,
      annotations: definition.annotations,
    },
    spec: {
      ...(definition.replicas !== undefined && { replicas: definition.replicas }),
      ...(kind === "StatefulSet" && { serviceName: name }),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { ...definition.templateLabels, app: name },
          annotations: definition.templateAnnotations,
        },
        spec: { containers: [{ name: "app", image: "registry.example/app:1" }] },
      },
    },
  })
}

/**
 * Writes a workload's status as its controller would: `total` replicas of which `ready` are
 * ready (and available). A merge patch needs no resourceVersion, so it never conflicts with a
 * gateway's scale writes.
 */
export async function writeWorkloadStatus(
  kubeConfig: KubeConfig,
  namespace: string,
  kind: ControlledKind,
  name: string,
  {
    total,
    ready,
    observedGeneration,
  }: { total: number; ready: number; observedGeneration?: number | undefined },
): Promise<void> {
  const status =
    kind === "Deployment"
      ? {
          observedGeneration,
          replicas: total,
          updatedReplicas: total,
          readyReplicas: ready,
          availableReplicas: ready,
          unavailableReplicas: total - ready,
        }
      : {
          observedGeneration,
          replicas: total,
          currentReplicas: total,
          updatedReplicas: total,
          readyReplicas: ready,
          availableReplicas: ready,
        }
  await kube(
    kubeConfig,
    "PATCH",
    `${workloadPath(kind, namespace, name)}/status`,
    { status },
    "application/merge-patch+json",
  )
}

interface Observed {
  desired: number
  generation: number | undefined
  timers: ReturnType<typeof setTimeout>[]
}

// biome-ignore lint/suspicious/noExplicitAny: API objects
type KubeObject = any

/** Starts the controller; it is watching once the promise resolves. */
export async function startTestController(options: TestControllerOptions): Promise<TestController> {
  const { kubeConfig, namespace } = options
  const kind = options.kind ?? "Deployment"
  const podReadyDelayMs = options.podReadyDelayMs ?? 30
  const endpointReadyDelayMs = options.endpointReadyDelayMs ?? 30
  const observed = new Map<string, Observed>()
  const writes: TestController["writes"] = []
  let closed = false
  let request: AbortController | undefined
  let resourceVersion = ""
  /** Writes run one after another, so a late write never overtakes a newer one. */
  let queue: Promise<unknown> = Promise.resolve()
  const enqueue = (write: () => Promise<unknown>) => {
    queue = queue
      .then(() => (closed ? undefined : write()))
      .catch((error: unknown) => {
        if (!closed) console.warn(`test controller: ${(error as Error).message}`)
      })
  }

  const writeStatus = async (name: string, total: number, ready: number) => {
    writes.push({ workload: name, what: "status", total, ready, sentAt: performance.now() })
    await writeWorkloadStatus(kubeConfig, namespace, kind, name, {
      total,
      ready,
      observedGeneration: observed.get(name)?.generation,
    })
  }

  const writeSlice = async (name: string, total: number, ready: number) => {
    const sliceName = `${name}-sfz`
    const slice = {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: sliceName,
        labels: {
          "kubernetes.io/service-name": name,
          "endpointslice.kubernetes.io/managed-by": "sfz-test-controller",
        },
      },
      addressType: "IPv4",
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      endpoints: Array.from({ length: total }, (_, i) => ({
        addresses: [`10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`],
        conditions: { ready: i < ready, serving: i < ready, terminating: false },
        targetRef: { kind: "Pod", name: `${name}-${i}`, namespace, uid: podUid(name, i) },
      })),
    }
    const path = `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`
    const existing = await kubeRequest(kubeConfig, "GET", `${path}/${sliceName}`)
    writes.push({ workload: name, what: "slice", total, ready, sentAt: performance.now() })
    if (existing.status === 404) await kube(kubeConfig, "POST", path, slice)
    else await kube(kubeConfig, "PUT", `${path}/${sliceName}`, slice)
  }

  const uids = new Map<string, string>()
  const podUid = (name: string, i: number) => {
    const key = `${name}/${i}`
    let uid = uids.get(key)
    if (uid === undefined) {
      uid = randomUUID()
      uids.set(key, uid)
    }
    return uid
  }

  const reconcile = (workload: KubeObject) => {
    const name: string = workload.metadata.name
    // The API leaves a zero out of what it sends.
    const desired: number = workload.spec?.replicas ?? 0
    const previous = observed.get(name)
    if (previous !== undefined) previous.generation = workload.metadata.generation
    if (previous?.desired === desired) return
    for (const timer of previous?.timers ?? []) clearTimeout(timer)
    const before = previous?.desired ?? 0
    // Pods that stay keep their readiness; new ones start not ready.
    const keep = Math.min(before, desired)
    const entry: Observed = { desired, generation: workload.metadata.generation, timers: [] }
    observed.set(name, entry)
    enqueue(async () => {
      await writeStatus(name, desired, keep)
      await writeSlice(name, desired, keep)
    })
    if (desired > keep) {
      entry.timers.push(
        setTimeout(() => {
          enqueue(() => writeStatus(name, desired, desired))
          entry.timers.push(
            setTimeout(
              () => enqueue(() => writeSlice(name, desired, desired)),
              endpointReadyDelayMs,
            ),
          )
        }, podReadyDelayMs),
      )
    }
  }

  const forget = (workload: KubeObject) => {
    const entry = observed.get(workload.metadata.name)
    for (const timer of entry?.timers ?? []) clearTimeout(timer)
    observed.delete(workload.metadata.name)
  }

  const list = async () => {
    const listed = await kube(kubeConfig, "GET", workloadPath(kind, namespace))
    resourceVersion = listed.metadata.resourceVersion
    for (const item of listed.items) reconcile(item)
  }

  const watch = async (): Promise<void> => {
    if (closed) return
    request = await new Watch(kubeConfig).watch(
      workloadPath(kind, namespace),
      { resourceVersion, allowWatchBookmarks: true },
      (type: string, object: KubeObject) => {
        if (type === "ERROR") {
          resourceVersion = ""
          return
        }
        resourceVersion = object.metadata?.resourceVersion ?? resourceVersion
        if (type === "ADDED" || type === "MODIFIED") reconcile(object)
        else if (type === "DELETED") forget(object)
      },
      () => {
        if (closed) return
        // The server ended the watch (its timeout) or the version left its window: go on.
        const restart = resourceVersion === "" ? list().then(watch) : watch()
        restart.catch((error: unknown) => {
          if (!closed) console.warn(`test controller watch: ${(error as Error).message}`)
        })
      },
    )
  }

  await list()
  await watch()

  return {
    writes,
    async close() {
      closed = true
      request?.abort()
      for (const entry of observed.values()) for (const timer of entry.timers) clearTimeout(timer)
      await queue
    },
  }
}

import { setTimeout as sleep } from "node:timers/promises"
import { type KubeConfig, Watch } from "@kubernetes/client-node"
import { type KubernetesAccess, statusOf, watchFailure } from "./errors.js"

interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string }
}

export interface ResourceWatchOptions<T extends KubeObject> {
  kubeConfig: KubeConfig
  /** The collection's path, e.g. `/apis/apps/v1/namespaces/NS/deployments`. */
  path: string
  labelSelector?: string
  /** What the watch asks of the API server, to name it in a permission error. */
  access: KubernetesAccess
  list(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }>
  /** The service an object belongs to, told of its changes. */
  subjectOf(object: T): string | undefined
  /** Called once, when the collection is listed and its watch is open. */
  onSynced(): void
  /** Called with the services whose objects changed (after a watch event or a re-list). */
  onChange(subjects: ReadonlySet<string>): void
  /** Called once if the watch stops for good: a list or a watch request that cannot start. */
  onFailed(error: Error): void
  /** Seconds after which the API server ends each watch request (it is then resumed). */
  timeoutSeconds: number
  /** Ends the list and watch. */
  signal: AbortSignal
}

type WatchEnd = "ended" | "expired"

/** A watch that ends sooner than this after it opened is resumed only after as long a pause. */
const QUICK_CLOSE_MS = 1000

/** An ERROR event's Status, as an Error carrying its code where the Watch puts HTTP statuses. */
class WatchStatusError extends Error {
  override readonly name = "WatchStatusError"
  constructor(
    readonly statusCode: number | undefined,
    message: string,
  ) {
    super(message)
  }
}

/**
 * A list then watch of one collection that keeps a local copy of its objects. An open watch
 * that ends (the server's timeout, a reset connection) is resumed from the last resourceVersion
 * seen (events and BOOKMARKs both advance it); an answer of 410 Gone (the version left the
 * watch window) lists afresh. A request that cannot start is reported through `onFailed` and
 * ends the watch: polling and re-opening with backoff are the provider kit's.
 */
export class ResourceWatch<T extends KubeObject> {
  readonly objects = new Map<string, T>()
  /** Resolves once no request of this watch is left open. */
  readonly done: Promise<void>
  private resourceVersion: string | undefined
  private synced = false

  constructor(private readonly options: ResourceWatchOptions<T>) {
    this.done = this.run()
  }

  /** Objects of one service. */
  *of(subject: string): Iterable<T> {
    for (const object of this.objects.values()) {
      if (this.options.subjectOf(object) === subject) yield object
    }
  }

  private async run(): Promise<void> {
    const { signal } = this.options
    try {
      while (!signal.aborted) {
        if (this.resourceVersion === undefined) await this.relist(signal)
        const opened = Date.now()
        const end = await this.watchOnce(signal)
        if (end === "expired") this.resourceVersion = undefined
        // A server that keeps ending watches at once must not be met by a busy loop.
        const open = Date.now() - opened
        if (open < QUICK_CLOSE_MS) await sleep(QUICK_CLOSE_MS - open, undefined, { signal })
      }
    } catch (error) {
      if (!signal.aborted) this.options.onFailed(watchFailure(error, this.options.access))
    }
  }

  private async relist(signal: AbortSignal) {
    const list = await this.options.list(signal)
    const changed = new Set<string>()
    const note = (object: T) => {
      const subject = this.options.subjectOf(object)
      if (subject !== undefined) changed.add(subject)
    }
    for (const object of this.objects.values()) note(object)
    this.objects.clear()
    for (const object of list.items) {
      const name = object.metadata?.name
      if (name === undefined) continue
      this.objects.set(name, object)
      note(object)
    }
    this.resourceVersion = list.resourceVersion
    this.options.onChange(changed)
  }

  /**
   * One watch request, from the stored resourceVersion, until the server ends it. Rejects when
   * the request cannot start or the server sends an ERROR other than 410.
   */
  private watchOnce(signal: AbortSignal): Promise<WatchEnd> {
    const { kubeConfig, path, labelSelector, timeoutSeconds } = this.options
    return new Promise<WatchEnd>((resolve, reject) => {
      let request: AbortController | undefined
      let settled = false
      // A connection that goes silent past the server's own timeout is dead: resume it.
      const silence = setTimeout(() => finish(() => resolve("ended")), (timeoutSeconds + 30) * 1000)
      const finish = (settle: () => void) => {
        if (settled) return
        settled = true
        clearTimeout(silence)
        signal.removeEventListener("abort", onAbort)
        request?.abort()
        settle()
      }
      const onAbort = () => finish(() => resolve("ended"))
      signal.addEventListener("abort", onAbort, { once: true })

      const onEvent = (type: string, object: T & { code?: number; message?: string }) => {
        if (settled) return
        silence.refresh()
        const name = object.metadata?.name
        switch (type) {
          case "ADDED":
          case "MODIFIED":
          case "DELETED": {
            if (name !== undefined) {
              if (type === "DELETED") this.objects.delete(name)
              else this.objects.set(name, object)
            }
            this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion
            const subject = this.options.subjectOf(object)
            if (subject !== undefined) this.options.onChange(new Set([subject]))
            break
          }
          case "BOOKMARK":
            this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion
            break
          case "ERROR":
            if (object.code === 410) finish(() => resolve("expired"))
            else
              finish(() =>
                reject(new WatchStatusError(object.code, object.message ?? "watch error event")),
              )
            break
        }
      }
      // The client calls onDone before its watch() resolves when the request cannot start.
      const onDone = (error: unknown) => {
        // 410 Gone as the HTTP status rather than an ERROR event: the same answer.
        if (statusOf(error) === 410) finish(() => resolve("expired"))
        else if (error && request === undefined) finish(() => reject(error))
        else finish(() => resolve("ended"))
      }
      const query: Record<string, string | number | boolean> = {
        allowWatchBookmarks: true,
        timeoutSeconds,
        ...(this.resourceVersion !== undefined && { resourceVersion: this.resourceVersion }),
        ...(labelSelector !== undefined && { labelSelector }),
      }
      new Watch(kubeConfig).watch(path, query, onEvent, onDone).then(
        (controller) => {
          request = controller
          if (settled) {
            controller.abort()
          } else if (!this.synced) {
            this.synced = true
            this.options.onSynced()
          }
        },
        (error: unknown) => finish(() => reject(error)),
      )
    })
  }
}

import { setTimeout as sleep } from "node:timers/promises"
import { type KubeConfig, Watch } from "@kubernetes/client-node"
import { asError } from "@scale-from-zero/core"
import { type KubernetesAccess, statusOf, translateError } from "./errors.js"

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
  /** Called with the services whose objects changed (after a list, a watch event or a re-list). */
  onChange(subjects: ReadonlySet<string>): void
  /** Called when the watch turns healthy (listed and connected) or unhealthy (with why). */
  onHealth(healthy: boolean, error?: Error): void
  /** Seconds after which the API server ends each watch request (it is then resumed). */
  timeoutSeconds: number
  /** Milliseconds of backoff after the first failure; doubled per failure up to `maxBackoffMs`. */
  minBackoffMs: number
  maxBackoffMs: number
}

type WatchEnd = "closed" | "expired"

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
 * A list then watch of one collection that keeps a local copy of its objects: it resumes from the
 * last resourceVersion it saw (events and BOOKMARKs both advance it), lists afresh when the API
 * server answers 410 Gone (the version left its watch window), and backs off while it fails.
 */
export class ResourceWatch<T extends KubeObject> {
  readonly objects = new Map<string, T>()
  private resourceVersion: string | undefined
  private healthy = false
  private readonly controller = new AbortController()
  private readonly done: Promise<void>

  constructor(private readonly options: ResourceWatchOptions<T>) {
    this.done = this.run()
  }

  get isHealthy(): boolean {
    return this.healthy
  }

  /** Objects of one service. */
  *of(subject: string): Iterable<T> {
    for (const object of this.objects.values()) {
      if (this.options.subjectOf(object) === subject) yield object
    }
  }

  /** Stops listing and watching; resolves once no request is left open. */
  stop(): Promise<void> {
    this.controller.abort()
    return this.done
  }

  private setHealth(healthy: boolean, error?: Error) {
    if (this.healthy === healthy && healthy) return
    this.healthy = healthy
    this.options.onHealth(healthy, error)
  }

  private async run(): Promise<void> {
    const { signal } = this.controller
    let backoff = 0
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.relist(signal)
        const started = Date.now()
        const end = await this.watchOnce(signal)
        backoff = 0
        if (end === "expired") this.resourceVersion = undefined
        // A server that keeps ending watches at once must not be met by a busy loop.
        if (Date.now() - started < QUICK_CLOSE_MS) {
          await sleep(this.options.minBackoffMs, undefined, { signal })
        }
      } catch (error) {
        if (signal.aborted) break
        this.setHealth(
          false,
          asError(translateError(error, this.options.access, this.options.access.namespace)),
        )
        backoff =
          backoff === 0
            ? this.options.minBackoffMs
            : Math.min(backoff * 2, this.options.maxBackoffMs)
        try {
          await sleep(backoff, undefined, { signal })
        } catch {
          break
        }
      }
    }
    this.healthy = false
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

  /** One watch request, from the stored resourceVersion, until the server ends it. */
  private watchOnce(signal: AbortSignal): Promise<WatchEnd> {
    const { kubeConfig, path, labelSelector, timeoutSeconds } = this.options
    return new Promise<WatchEnd>((resolve, reject) => {
      let request: AbortController | undefined
      let settled = false
      // A connection that goes silent past the server's own timeout is dead: start again.
      const silenceMs = (timeoutSeconds + 30) * 1000
      const silence = setTimeout(
        () => finish(() => reject(new Error("the watch went silent"))),
        silenceMs,
      )
      const finish = (settle: () => void) => {
        if (settled) return
        settled = true
        clearTimeout(silence)
        signal.removeEventListener("abort", onAbort)
        request?.abort()
        settle()
      }
      const onAbort = () => finish(() => resolve("closed"))
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
      const onDone = (error: unknown) => {
        // 410 Gone as the HTTP status rather than an ERROR event: the same answer.
        if (statusOf(error) === 410) finish(() => resolve("expired"))
        else if (error) finish(() => reject(error))
        else finish(() => resolve("closed"))
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
          if (settled) controller.abort()
          else this.setHealth(true)
        },
        (error: unknown) => finish(() => reject(error)),
      )
    })
  }
}

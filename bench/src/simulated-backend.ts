import { performance } from "node:perf_hooks"
import {
  DEFAULT_MAX_REPLICAS,
  DEFAULT_SCALING_FACTOR,
  type ServiceQuery,
  type ServiceQueryResponse,
} from "@scale-from-zero/core"

/** Per-service state of the simulated backend. */
interface SimulatedService {
  replicas: number
  /** performance.now() when the service turned ready. */
  readyAt: number | undefined
  readyDelay: () => number
  starting: boolean
}

export interface SimulatedBackend extends ServiceQuery {
  readonly calls: { getReplicas: number; setReplicas: number }
  /** performance.now() at which the service turned ready, once it has. */
  readyAt(name: string): number | undefined
  /** Makes a service that is starting ready now, as its delay running out would. */
  makeReady(name: string): void
  close(): void
}

/**
 * A backend whose services turn ready a delay after each scale-up from zero (a fixed one, or
 * drawn per start), with or without push; a scale to zero makes them unready again. Each call
 * takes `callLatencyMs` (default 2 ms), like a provider on the same host.
 */
export function createSimulatedBackend(
  delays: Record<string, number | (() => number)>,
  options: { push: boolean; callLatencyMs?: number },
): SimulatedBackend {
  const callLatencyMs = options.callLatencyMs ?? 2
  const answerLater = () => new Promise((resolve) => setTimeout(resolve, callLatencyMs))
  const services = new Map<string, SimulatedService>()
  for (const [name, delay] of Object.entries(delays)) {
    const readyDelay = typeof delay === "number" ? () => delay : delay
    services.set(name, { replicas: 0, readyAt: undefined, readyDelay, starting: false })
  }
  const watchers = new Map<string, Set<(r: ServiceQueryResponse) => void>>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const calls = { getReplicas: 0, setReplicas: 0 }

  const status = (service: SimulatedService): ServiceQueryResponse => {
    const ready = service.readyAt !== undefined
    return {
      replicas: service.replicas,
      availableReplicas: ready ? service.replicas : 0,
      minReplicas: 1,
      maxReplicas: DEFAULT_MAX_REPLICAS,
      scalingFactor: DEFAULT_SCALING_FACTOR,
    }
  }

  const serviceNamed = (name: string) => {
    const service = services.get(name)
    if (service === undefined) throw new Error(`simulated backend has no service ${name}`)
    return service
  }

  const turnReady = (name: string, service: SimulatedService) => {
    service.readyAt = performance.now()
    for (const onChange of watchers.get(name) ?? []) onChange(status(service))
  }

  const backend: SimulatedBackend = {
    calls,
    readyAt: (name) => services.get(name)?.readyAt,
    makeReady(name) {
      const service = serviceNamed(name)
      if (service.starting && service.readyAt === undefined) turnReady(name, service)
    },
    async getReplicas(name) {
      calls.getReplicas++
      await answerLater()
      return status(serviceNamed(name))
    },
    async setReplicas(name, _namespace, count) {
      calls.setReplicas++
      await answerLater()
      const service = serviceNamed(name)
      service.replicas = count
      if (count === 0) {
        service.starting = false
        service.readyAt = undefined
      }
      if (count > 0 && !service.starting) {
        service.starting = true
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (service.readyAt === undefined) turnReady(name, service)
        }, service.readyDelay())
        timers.add(timer)
      }
    },
    close() {
      for (const timer of timers) clearTimeout(timer)
    },
  }
  if (options.push) {
    backend.watch = (name, _namespace, onChange, watchOptions) => {
      let set = watchers.get(name)
      if (set === undefined) {
        set = new Set()
        watchers.set(name, set)
      }
      const listeners = set
      const listener = (r: ServiceQueryResponse) => onChange(r)
      listeners.add(listener)
      watchOptions?.signal?.addEventListener("abort", () => listeners.delete(listener), {
        once: true,
      })
    }
  }
  return backend
}

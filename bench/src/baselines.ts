import { createFunctionCache, type ServiceQuery, SingleFlight } from "@scale-from-zero/core"

/** How a gateway answers "is NAME ready yet?" for one request. */
export type WaitPolicy = (name: string) => Promise<boolean>

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The upstream OpenFaaS gateway's published policy (gateway/scaling FunctionScaler.Scale),
 * re-expressed for comparison: every held request runs its own loop — a 250 ms cache, reads
 * through a single flight, scale-up when desired replicas is 0, then a read every 100 ms.
 */
export function upstreamPolicy(serviceQuery: ServiceQuery, namespace = "bench"): WaitPolicy {
  const cache = createFunctionCache(250)
  const flight = new SingleFlight()
  const read = (name: string) =>
    flight.do(`GetReplicas-${name}.${namespace}`, async () => {
      const response = await serviceQuery.getReplicas(name, namespace)
      cache.set(name, namespace, response)
      return response
    })
  return async (name) => {
    const cached = cache.get(name, namespace)
    if (cached.hit && (cached.response?.availableReplicas ?? 0) > 0) return true
    let status = await read(name)
    if (status.availableReplicas > 0) return true
    if (status.replicas === 0) {
      await flight.do(`SetReplicas-${name}.${namespace}`, () =>
        serviceQuery.setReplicas(name, namespace, Math.max(status.minReplicas, 1)),
      )
    }
    for (let poll = 0; poll < 1000; poll++) {
      status = await read(name)
      if (status.availableReplicas > 0) return true
      await sleep(100)
    }
    return true // upstream forwarded the request even after its last poll
  }
}

/** A gateway that re-checks a waking service every 5 s, holding the request meanwhile. */
export function blockingPollPolicy(serviceQuery: ServiceQuery, namespace = "bench"): WaitPolicy {
  return async (name) => {
    const status = await serviceQuery.getReplicas(name, namespace)
    if (status.availableReplicas > 0) return true
    if (status.replicas === 0) await serviceQuery.setReplicas(name, namespace, 1)
    for (;;) {
      await sleep(5000)
      if ((await serviceQuery.getReplicas(name, namespace)).availableReplicas > 0) return true
    }
  }
}

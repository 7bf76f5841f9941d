import type { FunctionCacher } from "./function-cache.js"
import type { QueryOptions, ServiceQuery, ServiceQueryResponse } from "./types.js"

/** Reads a service's status through the cache, asking the backend only on a miss. */
export interface FunctionQuery {
  get(name: string, namespace: string, options?: QueryOptions): Promise<ServiceQueryResponse>
  /** The service's annotations, `{}` when it has none. */
  getAnnotations(
    name: string,
    namespace: string,
    options?: QueryOptions,
  ): Promise<Record<string, string>>
}

export function createCachedFunctionQuery(
  cache: FunctionCacher,
  serviceQuery: ServiceQuery,
): FunctionQuery {
  const get = async (name: string, namespace: string, options?: QueryOptions) => {
    const { response, hit } = cache.get(name, namespace)
    if (hit && response !== undefined) return response
    const fresh = await serviceQuery.getReplicas(name, namespace, options)
    cache.set(name, namespace, fresh)
    return fresh
  }
  return {
    get,
    async getAnnotations(name, namespace, options) {
      const response = await get(name, namespace, options)
      return response.annotations ?? {}
    },
  }
}

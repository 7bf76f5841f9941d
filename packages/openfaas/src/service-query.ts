import { InvalidServiceNameError } from "@scale-from-zero/core"
import {
  deadline,
  defineServiceQuery,
  ERROR_CODES,
  hasErrorCode,
  type ProviderServiceQuery,
  ServiceNotFoundError,
} from "@scale-from-zero/core/provider"
import { discard, excerpt, readBounded } from "./body.js"
import {
  OpenFaaSCredentialsError,
  type OpenFaaSOperation,
  OpenFaaSProviderError,
} from "./errors.js"
import { MalformedStatus, parseFunctionStatus } from "./function-status.js"
import { type OpenFaaSServiceQueryOptions, resolveOptions } from "./options.js"

/** A function status is a few kilobytes; more than this is not a faas-provider answer. */
const MAX_STATUS_BYTES = 1024 * 1024
/** The start of faas-netes' 500 answer to a scale of a function it could not look up. */
const FAAS_NETES_LOOKUP_FAILED = "Unable to lookup function deployment"
/** What is read of a failed answer: enough for an error message, never the whole of a large page. */
const MAX_ERROR_BODY_BYTES = 2048

interface Call {
  readonly operation: OpenFaaSOperation
  readonly service: string
  readonly namespace: string
}

/**
 * A ServiceQuery over the faas-provider REST API, which both the OpenFaaS gateway and every
 * provider (faas-netes, faasd, …) serve. Uses `fetch` alone, so it runs on Node, Deno, Bun
 * and Cloudflare Workers. The API has no push, so the query offers no `watch`: the scaler
 * polls `getReplicas`.
 * @throws TypeError (code `ERR_INVALID_OPTION`) naming an option that is missing or wrong.
 */
export function createOpenFaaSServiceQuery(
  options: OpenFaaSServiceQueryOptions,
): ProviderServiceQuery {
  const { endpoint, authorization, fetch: fetchFunction, timeoutMs } = resolveOptions(options)
  const describe = (call: Call) =>
    `${call.operation} ${call.service}.${call.namespace}: the OpenFaaS provider at ${endpoint}`
  const providerError = (call: Call, message: string, details: object = {}) =>
    new OpenFaaSProviderError(`${describe(call)} ${message}`, { ...call, endpoint, ...details })

  /**
   * One HTTP exchange bounded by the timeout and the caller's signal; `handle` reads the
   * answer while both still apply. Leaves no timer or listener behind.
   */
  const exchange = async <T>(
    call: Call,
    path: string,
    init: RequestInit,
    callerSignal: AbortSignal | undefined,
    handle: (response: Response) => Promise<T>,
  ): Promise<T> => {
    const bounded = deadline(
      timeoutMs,
      callerSignal,
      () => new DOMException(`no answer within ${timeoutMs}ms`, "TimeoutError"),
    )
    try {
      const headers: Record<string, string> = { accept: "application/json" }
      if (init.body !== undefined) headers["content-type"] = "application/json"
      if (authorization !== undefined) headers.authorization = authorization
      const response = await fetchFunction(`${endpoint}${path}`, {
        ...init,
        headers,
        signal: bounded.signal,
      })
      return await handle(response)
    } catch (error) {
      if (callerSignal?.aborted) throw callerSignal.reason
      if (
        error instanceof OpenFaaSProviderError ||
        hasErrorCode(error, ERROR_CODES.serviceNotFound)
      ) {
        throw error
      }
      if (bounded.signal.aborted) {
        throw providerError(call, `did not answer within ${timeoutMs}ms`, {
          cause: bounded.signal.reason,
        })
      }
      throw providerError(call, `could not be reached: ${messageOf(error)}`, { cause: error })
    } finally {
      bounded.release()
    }
  }

  /** The error for an answer that is neither success nor 404; reads a short excerpt of its body. */
  const failure = async (call: Call, response: Response): Promise<OpenFaaSProviderError> => {
    const { text } = await readBounded(response, MAX_ERROR_BODY_BYTES)
    const bodyExcerpt = excerpt(text)
    const details = { ...call, endpoint, status: response.status, bodyExcerpt }
    const said = bodyExcerpt === "" ? "" : `: ${bodyExcerpt}`
    if (response.status === 401 || response.status === 403) {
      const given =
        authorization === undefined
          ? "no credentials were given (set basicAuth or token)"
          : "check basicAuth or token"
      return new OpenFaaSCredentialsError(
        `${describe(call)} refused the credentials (${response.status}); ${given}${said}`,
        details,
      )
    }
    return new OpenFaaSProviderError(
      `${describe(call)} answered ${response.status}${said}`,
      details,
    )
  }

  const notFound = (call: Call, response: Response) => {
    discard(response)
    return new ServiceNotFoundError(call.service, call.namespace)
  }

  const target = (route: string, service: string, namespace: string) =>
    `/system/${route}/${encodeName(service)}?namespace=${encodeURIComponent(namespace)}`

  const read = (service: string, namespace: string, signal: AbortSignal | undefined) => {
    const call: Call = { operation: "get-replicas", service, namespace }
    const path = target("function", service, namespace)
    return exchange(call, path, { method: "GET" }, signal, async (response) => {
      if (response.status === 404) throw notFound(call, response)
      if (response.status !== 200) throw await failure(call, response)
      const { text, complete } = await readBounded(response, MAX_STATUS_BYTES)
      if (!complete) {
        throw providerError(call, `sent a function status larger than ${MAX_STATUS_BYTES} bytes`, {
          status: 200,
        })
      }
      try {
        return parseFunctionStatus(text)
      } catch (error) {
        const what =
          error instanceof MalformedStatus
            ? `sent a malformed function status, ${error.message}`
            : `sent a function status with ${messageOf(error)}`
        throw providerError(call, what, { status: 200, bodyExcerpt: excerpt(text), cause: error })
      }
    })
  }

  return defineServiceQuery({
    read(service, namespace, { signal }) {
      return read(service, namespace, signal)
    },

    async setReplicas(service, namespace, count, { signal }) {
      const call: Call = { operation: "set-replicas", service, namespace }
      // faas-netes reads the namespace from the query, faasd from the body: send both.
      const body = JSON.stringify({ serviceName: service, replicas: count, namespace })
      const path = target("scale-function", service, namespace)
      try {
        await exchange(call, path, { method: "POST", body }, signal, async (response) => {
          if (response.status === 200 || response.status === 202) {
            discard(response)
            return
          }
          if (response.status === 404) throw notFound(call, response)
          throw await failure(call, response)
        })
      } catch (error) {
        // faas-netes answers a scale of a function it cannot look up with 500 and this text,
        // whether the function is missing or its Kubernetes API failed: its own status read
        // tells the two apart (404 for a missing function).
        const lookupFailed =
          error instanceof OpenFaaSProviderError &&
          error.status === 500 &&
          error.bodyExcerpt?.startsWith(FAAS_NETES_LOOKUP_FAILED) === true
        if (lookupFailed) {
          const missing = await read(service, namespace, signal).then(
            () => undefined,
            (readError: unknown) =>
              hasErrorCode(readError, ERROR_CODES.serviceNotFound) ? readError : undefined,
          )
          if (missing !== undefined) throw missing
          signal?.throwIfAborted()
        }
        throw error
      }
    },
  })
}

/**
 * The name as one path segment. Percent-encoding keeps `/`, `?` and `#` inside the segment;
 * `.` and `..` cannot be encoded away (URL parsers resolve `%2e` too), so they are refused.
 */
function encodeName(service: string): string {
  if (service === "" || service === "." || service === "..") {
    throw new InvalidServiceNameError(service, "name", "it is not a path segment")
  }
  return encodeURIComponent(service)
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

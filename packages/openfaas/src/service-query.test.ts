import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { BackendError } from "@scale-from-zero/core/provider"
import {
  type FaasProviderSimulator,
  startFaasProviderSimulator,
} from "@scale-from-zero/test-kit/faas-provider-simulator"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import {
  createOpenFaaSServiceQuery,
  OpenFaaSCredentialsError,
  OpenFaaSProviderError,
  type OpenFaaSServiceQueryOptions,
} from "./index.js"

// The FAAS-PROVIDER SIMULATOR (and crafted answers), kept for what the real faas-netes cannot be
// made to do: hang, drop a connection, send malformed or huge answers, answer 403 or faasd's 404.
// Reads, scales and its real errors are tested against faas-netes (faas-netes.test.ts).
const basicAuth = { user: "admin", password: "s3cret:with:colons" }
const NS = "openfaas-fn"
const NOT_FOUND = { code: "ERR_SERVICE_NOT_FOUND" }

let simulator: FaasProviderSimulator

beforeEach(async () => {
  simulator = await startFaasProviderSimulator({ basicAuth, startupDelayMs: 50 })
})

afterEach(async () => {
  vi.useRealTimers()
  await simulator.close()
})

const query = (options: Partial<OpenFaaSServiceQueryOptions> = {}) =>
  createOpenFaaSServiceQuery({ url: simulator.url, basicAuth, timeoutMs: 2_000, ...options })

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a rejection")
    },
    (error: unknown) => error,
  )

interface Captured {
  url: string
  init: RequestInit
}

/** A fetch that records each call and answers with `answer()`. */
function capturingFetch(answer: () => Response = () => new Response(null, { status: 202 })) {
  const calls: Captured[] = []
  const fetch = async (url: string, init: RequestInit) => {
    calls.push({ url, init })
    return answer()
  }
  return { calls, fetch }
}

describe("getReplicas", () => {
  it.each([
    ["not JSON", "<html>oops</html>", "not JSON"],
    ["an array", "[]", "not a JSON object"],
    ["a negative count", '{"name":"f","replicas":-1}', "replicas is not a non-negative integer"],
    ["a fractional count", '{"name":"f","availableReplicas":0.5}', "availableReplicas"],
    ["non-string labels", '{"name":"f","labels":{"a":1}}', "labels is not a map of strings"],
  ])("refuses a 200 answer holding %s", async (_what, body, reason) => {
    const { fetch } = capturingFetch(() => new Response(body, { status: 200 }))
    const error = await failure(query({ fetch }).getReplicas("f", NS))
    expect(error).toBeInstanceOf(OpenFaaSProviderError)
    expect((error as Error).message).toContain(reason)
    expect((error as OpenFaaSProviderError).bodyExcerpt).toBe(body)
  })

  it("refuses a status larger than 1 MiB without reading all of it", async () => {
    const { stream, pulled } = endlessStream()
    const { fetch } = capturingFetch(() => new Response(stream, { status: 200 }))
    const error = await failure(query({ fetch }).getReplicas("f", NS))
    expect((error as Error).message).toContain("larger than 1048576 bytes")
    expect(pulled()).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024)
  })
})

describe("setReplicas", () => {
  it("POSTs { serviceName, replicas, namespace } to the scale route with JSON and auth headers", async () => {
    const { calls, fetch } = capturingFetch()
    await query({ fetch }).setReplicas("figlet", "team-a", 3)
    expect(calls).toHaveLength(1)
    const [call] = calls
    expect(call?.url).toBe(`${simulator.url}/system/scale-function/figlet?namespace=team-a`)
    expect(call?.init.method).toBe("POST")
    expect(JSON.parse(String(call?.init.body))).toEqual({
      serviceName: "figlet",
      replicas: 3,
      namespace: "team-a",
    })
    expect(call?.init.headers).toMatchObject({
      "content-type": "application/json",
      authorization: `Basic ${btoa(`${basicAuth.user}:${basicAuth.password}`)}`,
    })
  })

  it.each([-1, 1.5, Number.NaN])(
    "refuses the replica count %s without a request",
    async (count) => {
      const { calls, fetch } = capturingFetch()
      await expect(query({ fetch }).setReplicas("figlet", NS, count)).rejects.toThrow(RangeError)
      expect(calls).toHaveLength(0)
    },
  )

  it("gives a not-found error for a scale answered 404 (faasd's answer: faas-netes answers 500, tested on it)", async () => {
    const error = await failure(query().setReplicas("nope", NS, 1))
    expect(error).toMatchObject({ ...NOT_FOUND, service: "nope", namespace: NS })
  })
})

describe("errors", () => {
  it("treats 403 as refused credentials too (a gateway behind IAM: faas-netes answers 401)", async () => {
    simulator.injectFault({ status: 403, body: "forbidden: RBAC" })
    const error = await failure(query().setReplicas("figlet", NS, 1))
    expect(error).toBeInstanceOf(OpenFaaSCredentialsError)
    expect(error).toMatchObject({ status: 403, bodyExcerpt: "forbidden: RBAC" })
  })

  it("carries the status and a short excerpt of the body of any other failure (a long body faas-netes never sends)", async () => {
    const body = `Internal Server Error: ${"deployment lookup failed; ".repeat(40)}`
    simulator.injectFault({ status: 500, body })
    const error = await failure(query().getReplicas("figlet", NS))
    expect(error).toBeInstanceOf(OpenFaaSProviderError)
    expect(error).not.toBeInstanceOf(OpenFaaSCredentialsError)
    expect(error).toBeInstanceOf(BackendError)
    expect(error).toMatchObject({ code: "ERR_BACKEND", endpoint: simulator.url })
    const { status, bodyExcerpt, message } = error as OpenFaaSProviderError
    expect(status).toBe(500)
    expect(bodyExcerpt?.startsWith("Internal Server Error: deployment lookup failed;")).toBe(true)
    expect(bodyExcerpt?.length).toBe(201) // 200 characters and an ellipsis
    expect(message).toContain("answered 500: Internal Server Error")
  })

  it("keeps faas-netes' 500 'Unable to lookup function deployment' a provider error when its status read finds the function (simulator: faas-netes cannot be made to fail the lookup of an existing function)", async () => {
    simulator.addFunction("figlet", NS)
    simulator.injectFault({ status: 500, body: "Unable to lookup function deployment figlet" })
    const error = await failure(query().setReplicas("figlet", NS, 1))
    expect(error).toBeInstanceOf(OpenFaaSProviderError)
    expect(error).toMatchObject({
      code: "ERR_BACKEND",
      status: 500,
      bodyExcerpt: "Unable to lookup function deployment figlet",
    })
    // The scale, then the status read that found the function.
    expect(simulator.requests.map((request) => request.target)).toEqual([
      `/system/scale-function/figlet?namespace=${NS}`,
      `/system/function/figlet?namespace=${NS}`,
    ])
  })

  it("reads only a small part of a huge failed answer, then lets it go", async () => {
    const { stream, pulled, cancelled } = endlessStream()
    const { fetch } = capturingFetch(() => new Response(stream, { status: 502 }))
    const error = await failure(query({ fetch }).setReplicas("figlet", NS, 1))
    expect(error).toMatchObject({ status: 502 })
    expect(pulled()).toBeLessThanOrEqual(2048 + 64 * 1024)
    expect(cancelled()).toBe(true)
  })

  it("reports a provider that cannot be reached as a provider error without a status", async () => {
    const url = await closedPortUrl()
    const error = await failure(createOpenFaaSServiceQuery({ url }).getReplicas("figlet", NS))
    expect(error).toBeInstanceOf(OpenFaaSProviderError)
    expect(error).toMatchObject({ status: undefined })
    expect((error as Error).message).toContain(
      `the OpenFaaS provider at ${url} could not be reached`,
    )
    expect(error).toMatchObject({ code: "ERR_BACKEND", endpoint: url })
  })
})

describe("timeout and abort", () => {
  it("gives up on a provider that does not answer within the timeout", async () => {
    simulator.injectFault({ delayMs: 10_000, status: 200 })
    const start = performance.now()
    const error = await failure(query({ timeoutMs: 150 }).getReplicas("figlet", NS))
    const elapsed = performance.now() - start
    expect(error).toBeInstanceOf(OpenFaaSProviderError)
    expect((error as Error).message).toContain("did not answer within 150ms")
    expect((error as Error).cause).toMatchObject({ name: "TimeoutError" })
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(1_500)
    // The held request was dropped on the wire, not left open.
    await vi.waitFor(() => expect(simulator.inFlight).toBe(0))
  })

  it("rejects with the caller's reason as soon as the caller aborts, and drops the request", async () => {
    simulator.injectFault({ delayMs: 10_000, status: 200 })
    const controller = new AbortController()
    const reason = new DOMException("client went away", "AbortError")
    const pending = failure(query().setReplicas("figlet", NS, 1, { signal: controller.signal }))
    await vi.waitFor(() => expect(simulator.inFlight).toBe(1))
    const start = performance.now()
    controller.abort(reason)
    expect(await pending).toBe(reason)
    expect(performance.now() - start).toBeLessThan(200)
    await vi.waitFor(() => expect(simulator.inFlight).toBe(0))
  })

  it("rejects with the reason of an already aborted signal without a request", async () => {
    const { calls, fetch } = capturingFetch()
    const signal = AbortSignal.abort(new Error("gone"))
    expect(await failure(query({ fetch }).getReplicas("figlet", NS, { signal }))).toBe(
      signal.reason,
    )
    expect(calls).toHaveLength(0)
  })

  it("leaves no timer and no abort listener behind, on success and on failure", async () => {
    vi.useFakeTimers()
    const signal = new AbortController().signal
    const added = vi.spyOn(signal, "addEventListener")
    const removed = vi.spyOn(signal, "removeEventListener")
    let status = 200
    const { fetch } = capturingFetch(() => new Response('{"name":"f"}', { status }))
    const subject = query({ fetch })
    await subject.getReplicas("f", NS, { signal })
    status = 500
    await failure(subject.getReplicas("f", NS, { signal }))
    status = 404
    await failure(subject.setReplicas("f", NS, 1, { signal }))
    expect(vi.getTimerCount()).toBe(0)
    expect(added).toHaveBeenCalledTimes(3)
    expect(removed).toHaveBeenCalledTimes(3)
    expect(removed.mock.calls.map((call) => call[1])).toEqual(
      added.mock.calls.map((call) => call[1]),
    )
  })
})

describe("names", () => {
  const hostile = [
    "../system/functions",
    "a/../../system/scale-function/x",
    "x?namespace=kube-system",
    "x#fragment",
    "%2e%2e",
    "%2F..%2F",
    "fn name",
    "fünf",
  ]

  it.each(hostile)("keeps the name %j inside the status route's one path segment", async (name) => {
    const error = await failure(query().getReplicas(name, NS))
    expect(error).toMatchObject(NOT_FOUND)
    expect(simulator.requests.map((request) => request.target)).toEqual([
      `/system/function/${encodeURIComponent(name)}?namespace=openfaas-fn`,
    ])
    expect(simulator.counters.scale).toBe(0)
  })

  it.each(hostile)("keeps the name %j inside the scale route's one path segment", async (name) => {
    const { calls, fetch } = capturingFetch(() => new Response(null, { status: 404 }))
    await failure(query({ fetch }).setReplicas(name, NS, 1))
    const url = new URL(calls[0]?.url ?? "")
    expect(url.pathname).toBe(`/system/scale-function/${encodeURIComponent(name)}`)
    expect(url.searchParams.getAll("namespace")).toEqual([NS])
    expect(JSON.parse(String(calls[0]?.init.body)).serviceName).toBe(name)
  })

  it("encodes the namespace into one query parameter", async () => {
    const namespace = "a&namespace=kube-system#x"
    await failure(query().getReplicas("figlet", namespace))
    const target = simulator.requests[0]?.target ?? ""
    expect(new URL(target, "http://x").searchParams.getAll("namespace")).toEqual([namespace])
  })

  it.each(["", ".", ".."])(
    "refuses the name %j, which no URL can carry, without a request",
    async (name) => {
      const error = await failure(query().getReplicas(name, NS))
      expect(error).toMatchObject({ code: "ERR_INVALID_SERVICE_NAME", field: "name" })
      expect(simulator.requests).toHaveLength(0)
    },
  )
})

describe("options", () => {
  it("sends a bearer token instead of basic auth", async () => {
    const { calls, fetch } = capturingFetch(() => new Response('{"name":"f"}', { status: 200 }))
    await createOpenFaaSServiceQuery({ url: simulator.url, token: "t0k3n", fetch }).getReplicas(
      "f",
      NS,
    )
    expect(calls[0]?.init.headers).toMatchObject({ authorization: "Bearer t0k3n" })
  })

  it("encodes UTF-8 credentials for basic auth", async () => {
    const { calls, fetch } = capturingFetch()
    await createOpenFaaSServiceQuery({
      url: simulator.url,
      basicAuth: { user: "ädmin", password: "pässword" },
      fetch,
    }).setReplicas("f", NS, 1)
    const headers = calls[0]?.init.headers as Record<string, string>
    const header = String(headers.authorization)
    expect(Buffer.from(header.slice("Basic ".length), "base64").toString("utf8")).toBe(
      "ädmin:pässword",
    )
  })

  it("keeps a path prefix of the url and drops its trailing slashes", async () => {
    const { calls, fetch } = capturingFetch()
    await createOpenFaaSServiceQuery({ url: "https://example.test/openfaas//", fetch }).setReplicas(
      "f",
      NS,
      1,
    )
    expect(calls[0]?.url).toBe(
      "https://example.test/openfaas/system/scale-function/f?namespace=openfaas-fn",
    )
  })
})

describe("option validation", () => {
  const url = "http://127.0.0.1:8080"
  const create = (options: unknown) => () =>
    createOpenFaaSServiceQuery(options as OpenFaaSServiceQueryOptions)

  it.each<[string, unknown, string]>([
    [
      "basicAuth with username instead of user",
      { url, basicAuth: { username: "admin", password: "pw" } },
      "option basicAuth.user must be a string (required: basicAuth is { user, password }; the key is user, not username), got undefined",
    ],
    [
      "basicAuth without user",
      { url, basicAuth: { password: "pw" } },
      "option basicAuth.user must be a string (required: basicAuth is { user, password }), got undefined",
    ],
    [
      "a non-string user",
      { url, basicAuth: { user: 7, password: "pw" } },
      "option basicAuth.user must be a string (required: basicAuth is { user, password }), got 7",
    ],
    [
      "a colon in the user",
      { url, basicAuth: { user: "a:b", password: "" } },
      `option basicAuth.user must be a string without ':' (RFC 7617), got "a:b"`,
    ],
    [
      "basicAuth without password",
      { url, basicAuth: { user: "admin" } },
      "option basicAuth.password must be a string (required: basicAuth is { user, password }), got undefined",
    ],
    [
      "basicAuth as a string",
      { url, basicAuth: "admin:s3cret" },
      "option basicAuth must be an object { user, password }, got a string of 12 characters",
    ],
    [
      "basicAuth and token together",
      { url, basicAuth, token: "t0k3n" },
      "option token must be left out when basicAuth is given (give one of the two), got a string of 5 characters",
    ],
    [
      "an empty token",
      { url, token: "" },
      "option token must be a non-empty string on one line, got an empty string",
    ],
    [
      "a token of two lines",
      { url, token: "a\r\nx-injected: 1" },
      "option token must be a non-empty string on one line, got a string of 16 characters",
    ],
    [
      "a token that is not a string",
      { url, token: 42 },
      "option token must be a non-empty string on one line, got 42",
    ],
    [
      "no url",
      { basicAuth },
      "option url must be an absolute http or https URL (a string or a URL), got undefined",
    ],
    [
      "no options at all",
      undefined,
      "option url must be an absolute http or https URL (a string or a URL), got undefined",
    ],
    [
      "a url as the options",
      url,
      `option options must be an object such as { url, basicAuth }, got "${url}"`,
    ],
    [
      "a url that is a number",
      { url: 8080 },
      "option url must be an absolute http or https URL (a string or a URL), got 8080",
    ],
    [
      "a url that does not parse",
      { url: "not a url" },
      `option url must be an absolute http or https URL (a string or a URL), got "not a url"`,
    ],
    [
      "a url without a scheme",
      { url: "gateway:8080" },
      `option url must be an http: or https: URL, got "gateway:8080"`,
    ],
    [
      "a url of another scheme",
      { url: new URL("ftp://gateway/") },
      `option url must be an http: or https: URL, got "ftp://gateway/"`,
    ],
    [
      "credentials in the url (not echoed)",
      { url: "http://admin:pw@127.0.0.1:8080" },
      `option url must be a URL without credentials (pass them as basicAuth), got "http://***@127.0.0.1:8080/"`,
    ],
    [
      "a query in the url",
      { url: "http://127.0.0.1:8080/?x=1" },
      `option url must be a URL without a query or a fragment, got "http://127.0.0.1:8080/?x=1"`,
    ],
    [
      "a fetch that is not a function",
      { url, fetch: "fetch" },
      `option fetch must be a function (input, init) => Promise<Response>, got "fetch"`,
    ],
    [
      "a zero timeoutMs",
      { url, timeoutMs: 0 },
      "option timeoutMs must be a positive number, got 0",
    ],
    [
      "a timeoutMs given as a string",
      { url, timeoutMs: "5000" },
      `option timeoutMs must be a positive number, got "5000"`,
    ],
    [
      "a timeoutMs that is not finite",
      { url, timeoutMs: Number.POSITIVE_INFINITY },
      "option timeoutMs must be a positive number, got Infinity",
    ],
    [
      "a timeoutMs longer than a timer can wait",
      { url, timeoutMs: 2 ** 31 },
      "option timeoutMs must be a positive number of at most 2147483647, got 2147483648",
    ],
    [
      "the old timeout option",
      { url, timeout: 2_000 },
      "option timeout must be left out: it is now timeoutMs (milliseconds), got 2000",
    ],
  ])("refuses %s with a TypeError naming the option", (_what, options, message) => {
    let thrown: unknown
    try {
      create(options)()
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(TypeError)
    expect(thrown).toMatchObject({ message, code: "ERR_INVALID_OPTION" })
  })

  it("never echoes a password or a token", () => {
    const secrets = ["s3cret-password", "t0k3n-value"]
    const attempts: unknown[] = [
      { url, basicAuth: { user: "a:b", password: secrets[0] } },
      { url, basicAuth: { user: "admin", password: secrets[0] }, token: secrets[1] },
      { url, token: `${secrets[1]}\n` },
      { url: `http://admin:${secrets[0]}@127.0.0.1`, basicAuth },
      { url, basicAuth: `admin:${secrets[0]}` },
    ]
    for (const options of attempts) {
      expect(create(options)).toThrow(TypeError)
      try {
        create(options)()
      } catch (error) {
        for (const secret of secrets) expect((error as Error).message).not.toContain(secret)
      }
    }
  })

  it("accepts a URL object and no credentials", async () => {
    const { calls, fetch } = capturingFetch()
    await createOpenFaaSServiceQuery({ url: new URL(simulator.url), fetch }).setReplicas("f", NS, 1)
    expect(calls[0]?.url).toBe(`${simulator.url}/system/scale-function/f?namespace=${NS}`)
    expect(calls[0]?.init.headers).not.toHaveProperty("authorization")
  })
})

/** A body that never ends, counting what was pulled and whether it was cancelled. */
function endlessStream() {
  let pulled = 0
  let cancelled = false
  const chunk = new Uint8Array(16 * 1024).fill(120)
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += chunk.byteLength
      controller.enqueue(chunk)
    },
    cancel() {
      cancelled = true
    },
  })
  return { stream, pulled: () => pulled, cancelled: () => cancelled }
}

/** A URL on 127.0.0.1 where nothing listens any more. */
async function closedPortUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it, vi } from "vitest"
import type { WaitSignal } from "../abortable.js"
import type { Gate, GateHold, GatePass, GateReply } from "../gate.js"
import { createGate } from "../gate.js"
import { MAX_SCALE_REQUEST_BYTES, scaleRefusalReply } from "../horizontal-scaling.js"
import { createMemoryServiceQuery } from "../testing/index.js"
import {
  acceptPass,
  admitRequest,
  ClientClosedError,
  readScaleRequest,
  reportFinished,
  toGateRequest,
  waitForService,
  writeReply,
} from "./index.js"

type Handler = (request: IncomingMessage, response: ServerResponse) => void

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  server = undefined
})

async function serve(handler: Handler): Promise<string> {
  server = createServer(handler)
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

interface SendOptions {
  method?: string
  headers?: Record<string, string>
  /** Leave the request body open for the test to write. */
  open?: boolean
}

/** Sends a request; resolves with status, headers and body, or the connection error. */
function send(url: string, { open = false, ...options }: SendOptions = {}) {
  const request = httpRequest(url, { agent: false, ...options })
  if (!open) request.end()
  const answer = new Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }>(
    (resolve, reject) => {
      request.on("error", reject)
      request.on("response", (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          body += chunk
        })
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        )
      })
    },
  )
  return { request, answer }
}

const HOLD: GateHold = {
  kind: "hold",
  name: "echo",
  namespace: "openfaas-fn",
  browser: false,
  format: "text",
  wakes: true,
  keepsAwake: true,
}
const CLOSED: GateReply = { kind: "reply", status: 499, headers: {}, body: "client closed request" }

/** A gate whose wait ends when the test says, or with 499 when the signal aborts. */
function fakeGate() {
  let release: (outcome: GatePass | GateReply) => void = () => {}
  const signals: WaitSignal[] = []
  const gate = {
    // As the real gate: its abort listener is removed however the wait ends.
    wait: (_hold: GateHold, signal: WaitSignal) =>
      new Promise<GatePass | GateReply>((resolve) => {
        signals.push(signal)
        const settle = (outcome: GatePass | GateReply) => {
          signal.removeEventListener("abort", onAbort)
          resolve(outcome)
        }
        const onAbort = () => settle(CLOSED)
        release = settle
        signal.addEventListener("abort", onAbort, { once: true })
      }),
    finished: vi.fn(),
    open: (pass: GatePass) => () => gate.finished(pass),
  } as unknown as Gate & { finished: ReturnType<typeof vi.fn> }
  return { gate, signals, release: (outcome: GatePass | GateReply) => release(outcome) }
}

describe("toGateRequest", () => {
  it("reads Node's headers in place, case-insensitively, joining repeated ones", async () => {
    const seen = new Promise<Record<string, unknown>>((resolve, reject) => {
      serve((request, response) => {
        const gateRequest = toGateRequest(request)
        resolve({
          method: gateRequest.method,
          path: gateRequest.path,
          original: toGateRequest(request, "/function/echo/x").path,
          accept: gateRequest.headers.get("Accept"),
          missing: gateRequest.headers.get("x-missing"),
        })
        response.end()
      }).then(
        (url) => send(`${url}/healthz?x=1`, { headers: { accept: "text/html" } }).answer,
        reject,
      )
    })
    expect(await seen).toEqual({
      method: "GET",
      path: "/healthz?x=1",
      original: "/function/echo/x",
      accept: "text/html",
      missing: undefined,
    })
  })
})

describe("admitRequest", () => {
  it("shows the gate's callbacks the request admitted, even one admitting another meanwhile", async () => {
    const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
    const seen: string[] = []
    const inner = createGate({ serviceQuery })
    const outer = createGate({
      serviceQuery,
      resolve: (request) => {
        seen.push(`${request.path} ${request.headers.get("X-Who")}`)
        if (request.path === "/outer") {
          seen.push(`inner: ${admitRequest(inner, nodeRequest("/inner", "b")).kind}`)
          seen.push(`${request.path} ${request.headers.get("X-Who")}`)
        }
        return undefined
      },
    })
    expect(admitRequest(outer, nodeRequest("/outer", "a")).kind).toBe("pass")
    expect(admitRequest(outer, nodeRequest("/again", "c"), "/function/none").kind).toBe("pass")
    expect(seen).toEqual(["/outer a", "inner: pass", "/outer a", "/function/none c"])
    outer.close()
    inner.close()
    serviceQuery.close()
  })
})

describe("admitRequest of a warm request", () => {
  /** Admits `paths` once `echo` is cached ready, through the Node bridge; what each got. */
  async function admitted(options: Partial<Parameters<typeof createGate>[0]>, paths: string[]) {
    const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
    const gate = createGate({ serviceQuery, ...options })
    const first = admitRequest(gate, nodeRequest("/function/echo", "a"))
    if (first.kind !== "hold") throw new Error(`expected a hold, got ${first.kind}`)
    await gate.wait(first, new AbortController().signal)
    const kinds = paths.map((path) => {
      const verdict = admitRequest(gate, nodeRequest(path, "b"))
      return verdict.kind === "pass" && verdict.inFlight !== undefined ? "counted" : verdict.kind
    })
    gate.close()
    serviceQuery.close()
    return kinds
  }

  it("still calls the callbacks that read the request: keepsAwake, hints, a resolver", async () => {
    const seen: string[] = []
    const keepsAwake = (request: { path: string }) => {
      seen.push(`keepsAwake ${request.path}`)
      return request.path.endsWith("/kept")
    }
    expect(
      await admitted({ scaleToZero: { allServices: true, idleAfterMs: 60_000 }, keepsAwake }, [
        "/function/echo/kept",
        "/function/echo/other",
      ]),
    ).toEqual(["counted", "pass"])
    expect(seen).toEqual([
      "keepsAwake /function/echo", // the first request, held
      "keepsAwake /function/echo/kept",
      "keepsAwake /function/echo/other",
    ])
    seen.length = 0
    const when = (request: { path: string }) => {
      seen.push(`hint ${request.path}`)
      return false
    }
    expect(
      await admitted({ prewarm: [{ when, services: ["other"] }] }, ["/function/echo/x"]),
    ).toEqual(["pass"])
    expect(seen).toEqual(["hint /function/echo", "hint /function/echo/x"])
    seen.length = 0
    const resolve = (request: { path: string }) => {
      seen.push(`resolve ${request.path}`)
      return { name: "echo" }
    }
    expect(await admitted({ resolve }, ["/function/echo/x", "/anything"])).toEqual(["pass", "pass"])
    expect(seen).toEqual([
      "resolve /function/echo",
      "resolve /function/echo/x",
      "resolve /anything",
    ])
  })

  it("tells a warm service's paths from others beginning alike", async () => {
    expect(
      await admitted({}, [
        "/function/echo",
        "/function/echo/",
        "/function/echo?x=1",
        "/function/echo#top",
        "/function/echo.openfaas-fn/x",
        "/async-function/echo",
        "/function/echoes",
        "/function/echo.other",
        "/x/function/echo",
      ]),
    ).toEqual(["pass", "pass", "pass", "pass", "pass", "pass", "hold", "hold", "pass"])
  })
})

/** The parts of an IncomingMessage the gate reads. */
function nodeRequest(url: string, who: string): IncomingMessage {
  return { method: "GET", url, headers: { "x-who": who } } as unknown as IncomingMessage
}

describe("waitForService", () => {
  it("passes the gate's outcome on and removes its close listener", async () => {
    const { gate, release } = fakeGate()
    const listeners: number[] = []
    const url = await serve((request, response) => {
      listeners.push(response.listenerCount("close"))
      waitForService(gate, HOLD, response).then((outcome) => {
        listeners.push(response.listenerCount("close"))
        acceptPass(gate, outcome as GatePass, response)
        response.end(request.url)
      })
      listeners.push(response.listenerCount("close"))
    })
    const { answer } = send(`${url}/function/echo`)
    await vi.waitFor(() => expect(listeners).toHaveLength(2))
    release({ kind: "pass", coldStartMs: 42 })
    const { status, headers } = await answer
    expect(status).toBe(200)
    expect(headers["server-timing"]).toBe("cold-start;dur=42")
    const [before, during, after] = listeners
    expect(during).toBe((before ?? 0) + 1)
    expect(after).toBe(before)
    expect(gate.finished).not.toHaveBeenCalled()
  })

  it("aborts the wait when the client closes its connection, and answers nothing", async () => {
    const { gate, signals } = fakeGate()
    let ended: { outcome: GatePass | GateReply; listeners: number } | undefined
    const url = await serve((_request, response) => {
      waitForService(gate, HOLD, response).then((outcome) => {
        writeReply(response, outcome as GateReply)
        ended = { outcome, listeners: response.listenerCount("close") }
      })
    })
    const { request, answer } = send(`${url}/function/echo`)
    answer.catch(() => {})
    await vi.waitFor(() => expect(signals).toHaveLength(1))
    request.destroy()
    await vi.waitFor(() => expect(ended).toBeDefined())
    expect(signals[0]?.reason).toBeInstanceOf(ClientClosedError)
    expect(ended).toEqual({ outcome: CLOSED, listeners: 0 })
  })
})

describe("waitForService with the real gate", () => {
  /** Holds each request through a real gate; records the response's close listeners. */
  async function heldThroughGate(startupDelayMs: number) {
    const serviceQuery = createMemoryServiceQuery({ services: { echo: { startupDelayMs } } })
    const gate = createGate({ serviceQuery })
    const listeners: number[] = []
    const outcomes: (GatePass | GateReply)[] = []
    const url = await serve((request, response) => {
      const verdict = admitRequest(gate, request)
      if (verdict.kind !== "hold") throw new Error(`expected a hold, got ${verdict.kind}`)
      listeners.push(response.listenerCount("close"))
      waitForService(gate, verdict, response).then((outcome) => {
        outcomes.push(outcome)
        listeners.push(response.listenerCount("close"))
        if (outcome.kind === "reply") writeReply(response, outcome)
        else response.end("passed")
      })
      listeners.push(response.listenerCount("close"))
    })
    return { gate, listeners, outcomes, url }
  }

  it("listens to the response only while held, and passes once the service is ready", async () => {
    const { gate, listeners, url } = await heldThroughGate(50)
    const { status, body } = await send(`${url}/function/echo/x`).answer
    expect({ status, body }).toEqual({ status: 200, body: "passed" })
    const [before, during, after] = listeners
    expect(during).toBe((before ?? 0) + 1)
    expect(after).toBe(before)
    gate.close()
  })

  it("ends the wait at once when the client hangs up, its listener gone with it", async () => {
    const { gate, listeners, outcomes, url } = await heldThroughGate(60_000)
    const { request, answer } = send(`${url}/function/echo/x`)
    answer.catch(() => {})
    await vi.waitFor(() => expect(gate.scaler.totalWaiting).toBe(1))
    request.destroy()
    await vi.waitFor(() => expect(outcomes).toHaveLength(1))
    expect(gate.scaler.totalWaiting).toBe(0)
    expect(outcomes[0]).toMatchObject({ kind: "reply", status: 499 })
    expect(listeners[2]).toBe(listeners[0])
    gate.close()
  })
})

describe("acceptPass and reportFinished", () => {
  it("appends Server-Timing to one already set, and adds nothing to a warm pass", async () => {
    const { gate } = fakeGate()
    const url = await serve((request, response) => {
      response.setHeader("server-timing", "db;dur=3")
      if (request.url === "/warm") {
        const before = response.listenerCount("close")
        acceptPass(gate, { kind: "pass" }, response)
        expect(Object.hasOwn(response, "writeHead")).toBe(false)
        response.end(String(response.listenerCount("close") - before))
      } else {
        acceptPass(gate, { kind: "pass", coldStartMs: 7 }, response)
        response.end()
      }
    })
    expect((await send(`${url}/cold`).answer).headers["server-timing"]).toBe(
      "db;dur=3, cold-start;dur=7",
    )
    const warm = await send(`${url}/warm`).answer
    expect(warm.headers["server-timing"]).toBe("db;dur=3")
    expect(warm.body).toBe("0")
  })

  it("keeps the cold start in Server-Timing when a proxy copies the upstream's in, however it does", async () => {
    const { gate } = fakeGate()
    const upstream = { "Server-Timing": "app;dur=1", "content-type": "text/plain" }
    const url = await serve((request, response) => {
      acceptPass(gate, { kind: "pass", coldStartMs: 9 }, response)
      if (request.url === "/object") response.writeHead(200, upstream)
      if (request.url === "/message") response.writeHead(201, "Made", upstream)
      if (request.url === "/flat") response.writeHead(200, ["Server-Timing", "app;dur=1"])
      if (request.url === "/set") response.setHeader("server-timing", "app;dur=1")
      response.end("body")
    })
    for (const path of ["/object", "/message", "/flat", "/set"]) {
      const { headers, body } = await send(`${url}${path}`).answer
      expect(headers["server-timing"], path).toBe("app;dur=1, cold-start;dur=9")
      expect(body).toBe("body")
    }
    const { status, headers } = await send(`${url}/message`).answer
    expect(status).toBe(201)
    expect(headers["content-type"]).toBe("text/plain")
  })

  it("reports a tracked pass finished exactly once, when its response ends", async () => {
    const { gate } = fakeGate()
    const finished = vi.fn()
    const pass: GatePass = {
      kind: "pass",
      inFlight: {
        name: "echo",
        namespace: "openfaas-fn",
        finished,
        open: () => () => {},
        watchesTraffic: false,
      },
    }
    const url = await serve((_request, response) => {
      acceptPass(gate, pass, response)
      expect(finished).not.toHaveBeenCalled()
      response.end("done")
    })
    expect((await send(url).answer).body).toBe("done")
    await vi.waitFor(() => expect(finished).toHaveBeenCalledTimes(1))
    reportFinished(gate, pass, { closed: true } as ServerResponse)
    expect(finished).toHaveBeenCalledTimes(2)
  })

  it("counts a pass whose service watches traffic through gate.open, with the socket", async () => {
    const { gate } = fakeGate()
    const closed = vi.fn()
    const open = vi.fn(() => closed)
    const pass: GatePass = {
      kind: "pass",
      inFlight: {
        name: "echo",
        namespace: "openfaas-fn",
        finished: () => {},
        open: () => () => {},
        watchesTraffic: true,
      },
    }
    ;(gate as unknown as { open: typeof open }).open = open
    let socket: unknown
    const url = await serve((request, response) => {
      socket = request.socket
      acceptPass(gate, pass, response)
      response.end("done")
    })
    expect((await send(url).answer).body).toBe("done")
    await vi.waitFor(() => expect(closed).toHaveBeenCalledTimes(1))
    expect(open).toHaveBeenCalledWith(pass, socket)
  })
})

describe("readScaleRequest", () => {
  const scaleServer = () =>
    serve((request, response) => {
      readScaleRequest(request).then((result) => {
        if (result.ok) response.end(result.body)
        else writeReply(response, scaleRefusalReply(result))
      })
    })

  it("refuses another method without reading the body, naming POST in Allow", async () => {
    const url = await scaleServer()
    const { request, answer } = send(url, { method: "PUT", open: true })
    request.write("{")
    const { status, headers } = await answer
    expect(status).toBe(405)
    expect(headers.allow).toBe("POST")
    request.destroy()
  })

  it("stops reading a chunked body past the limit and still answers 413", async () => {
    const url = await scaleServer()
    const { request, answer } = send(url, { method: "POST", open: true })
    const chunk = "x".repeat(16 * 1024)
    // Far more than the limit: the answer must come without the client ever finishing.
    for (let sent = 0; sent <= MAX_SCALE_REQUEST_BYTES * 4; sent += chunk.length)
      request.write(chunk)
    const { status, headers } = await answer
    expect(status).toBe(413)
    expect(headers.connection).toBe("close")
    request.destroy()
  })

  it("refuses a declared Content-Length past the limit at once", async () => {
    const url = await scaleServer()
    const { request, answer } = send(url, {
      method: "POST",
      headers: { "content-length": String(MAX_SCALE_REQUEST_BYTES + 1) },
      open: true,
    })
    request.write("{")
    expect((await answer).status).toBe(413)
    request.destroy()
  })

  it("resolves 400, never rejects, when the client leaves mid-body", async () => {
    const results: unknown[] = []
    const url = await serve((request) => {
      readScaleRequest(request).then((result) => results.push(result))
    })
    const { request, answer } = send(url, {
      method: "POST",
      headers: { "content-length": "100" },
      open: true,
    })
    answer.catch(() => {})
    request.write('{"serviceName":')
    await new Promise((resolve) => setTimeout(resolve, 50))
    request.destroy()
    await vi.waitFor(() => expect(results).toHaveLength(1))
    expect(results[0]).toMatchObject({ ok: false, status: 400 })
  })

  it("normalises a good body", async () => {
    const url = await scaleServer()
    const { request, answer } = send(url, { method: "POST", open: true })
    request.end(JSON.stringify({ serviceName: "echo", replicas: 12 }))
    expect((await answer).body).toBe('{"serviceName":"echo","replicas":5}')
  })
})

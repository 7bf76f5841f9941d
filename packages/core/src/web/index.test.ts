import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { settle, until } from "../../test/leak-check.js"
import { createGate, type GatePass } from "../gate.js"
import type { ScaleToZeroOptions } from "../idle-scale-down.js"
import { createMemoryServiceQuery } from "../testing/index.js"
import { admitRequest, countUntilDone } from "./index.js"

describe("admitRequest", () => {
  it("shows the gate the path and query as sent, taking the framework's path only when it is exactly that", () => {
    const serviceQuery = createMemoryServiceQuery({ services: {} })
    const seen: string[] = []
    const gate = createGate({
      serviceQuery,
      resolve: (request) => {
        seen.push(`${request.method} ${request.path} ${request.headers.get("x-who")}`)
        return undefined
      },
    })
    const at = (url: string, who: string) =>
      new Request(url, { method: "HEAD", headers: { "x-who": who } })
    admitRequest(gate, at("http://host/a/b", "1"), "/a/b")
    admitRequest(gate, at("http://host/a/b?x=1", "2"), "/a/b")
    admitRequest(gate, at("http://host/a%20b", "3"), "/a b")
    admitRequest(gate, at("http://host:8080/c", "4"))
    admitRequest(gate, at("http://host/a/b", "5"), "/x/y") // as long, but another path
    expect(seen).toEqual([
      "HEAD /a/b 1",
      "HEAD /a/b?x=1 2",
      "HEAD /a%20b 3",
      "HEAD /c 4",
      "HEAD /a/b 5",
    ])
    gate.close()
    serviceQuery.close()
  })
})

describe("countUntilDone on @hono/node-server (its bindings: the Node request and response)", () => {
  let server: Server | undefined
  const cleanups: (() => void)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
    server = undefined
  })

  /** A gate counting every request for `echo`; the handler is given each request's pass. */
  async function setup(
    scaleToZero: ScaleToZeroOptions,
    handler: (pass: GatePass, request: IncomingMessage, response: ServerResponse) => void,
  ) {
    const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
    const gate = createGate({ serviceQuery, scaleToZero: { allServices: true, ...scaleToZero } })
    cleanups.push(() => {
      gate.close()
      serviceQuery.close()
    })
    server = createServer(async (request, response) => {
      // The first request finds no cached status and is held while the gate reads it.
      let verdict = admitRequest(gate, new Request(`http://gateway${request.url}`))
      if (verdict.kind === "hold") verdict = await gate.wait(verdict, new AbortController().signal)
      if (verdict.kind === "pass") handler(verdict, request, response)
      else response.writeHead(500).end(`expected a pass, got ${verdict.kind}`)
    })
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/function/echo`
    const inFlight = () => gate.status().find((s) => s.name === "echo")?.inFlight
    return { gate, url, inFlight }
  }

  it("counts a request until its Node response closes, its body sent or its client gone", async () => {
    const responses: ServerResponse[] = []
    const unwrapped: boolean[] = []
    const { gate, url, inFlight } = await setup({}, (pass, incoming, outgoing) => {
      const response = new Response("unused")
      // The Node response carries the body: the web Response comes back as it was.
      unwrapped.push(countUntilDone(gate, pass, response, { incoming, outgoing }) === response)
      outgoing.write("first part\n")
      responses.push(outgoing)
    })
    const finished = fetch(url)
    const reader = (await finished).body!.getReader()
    await reader.read()
    expect(inFlight()).toBe(1)
    responses[0]!.end("last part\n")
    while (!(await reader.read()).done) {}
    await until(() => inFlight() === 0)

    const left = new AbortController()
    const body = (await fetch(url, { signal: left.signal })).body!.getReader()
    await body.read()
    expect(inFlight()).toBe(1)
    left.abort()
    await until(() => inFlight() === 0)
    expect(responses[1]!.writableFinished).toBe(false)
    expect(unwrapped).toEqual([true, true])
  })

  it("counts a request whose Node response already closed as finished at once", async () => {
    let countedAfterClose: number | null | undefined
    const { gate, url, inFlight } = await setup({}, (pass, incoming, outgoing) => {
      outgoing.end("answered by the handler")
      outgoing.once("close", () => {
        countUntilDone(gate, pass, new Response(null), { incoming, outgoing })
        countedAfterClose = inFlight()
      })
    })
    expect(await (await fetch(url)).text()).toBe("answered by the handler")
    await until(() => countedAfterClose !== undefined)
    expect(countedAfterClose).toBe(0)
  })

  it("with connectionIdleMs, reads the socket's bytes: a body streaming stays counted, a quiet one stops", async () => {
    const responses: ServerResponse[] = []
    const { gate, url, inFlight } = await setup(
      { connectionIdleMs: 150, checkIntervalMs: 10, idleAfterMs: 60_000 },
      (pass, incoming, outgoing) => {
        countUntilDone(gate, pass, new Response(null), { incoming, outgoing })
        outgoing.write("event\n")
        responses.push(outgoing)
      },
    )
    const reader = (await fetch(url)).body!.getReader()
    // A chunk every 50 ms for 500 ms: never quiet for 150 ms.
    for (let i = 0; i < 10; i++) {
      await settle(50)
      responses[0]!.write("event\n")
      await reader.read()
    }
    expect(inFlight()).toBe(1)
    // Quiet: no longer counted, though the response is still open.
    await until(() => inFlight() === 0)
    expect(responses[0]!.closed).toBe(false)
    responses[0]!.end()
    while (!(await reader.read()).done) {}
  })
})

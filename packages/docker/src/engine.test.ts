// The engine client's failure modes, against stand-in servers (no container engine needed).
import { readFileSync, rmSync } from "node:fs"
import http, { type IncomingMessage, type ServerResponse } from "node:http"
import https from "node:https"
import type { AddressInfo, Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { BackendError } from "@scale-from-zero/core"
import { uniqueName } from "@scale-from-zero/test-kit/podman"
import { afterEach, describe, expect, it } from "vitest"
import { createDockerServiceQuery } from "./docker-service-query.js"
import { DockerEngineError } from "./engine.js"

const certificate = readFileSync(new URL("../test/localhost-cert.pem", import.meta.url))
const key = readFileSync(new URL("../test/localhost-key.pem", import.meta.url))

type Handler = (request: IncomingMessage, response: ServerResponse) => void

interface StandIn {
  server: http.Server
  sockets: Set<Socket>
  close(): Promise<void>
}

const standIns: StandIn[] = []

function track(server: http.Server, cleanup = () => {}): StandIn {
  const sockets = new Set<Socket>()
  server.on("connection", (socket: Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  const standIn = {
    server,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => {
          cleanup()
          resolve()
        })
      }),
  }
  standIns.push(standIn)
  return standIn
}

async function onSocket(handler: Handler) {
  const socketPath = join(tmpdir(), `${uniqueName("stand-in")}.sock`)
  const standIn = track(http.createServer(handler), () => rmSync(socketPath, { force: true }))
  await new Promise<void>((resolve) => standIn.server.listen(socketPath, resolve))
  return { ...standIn, socketPath }
}

afterEach(async () => {
  await Promise.all(standIns.splice(0).map((standIn) => standIn.close()))
})

const containerList = JSON.stringify([
  { Id: "abc", Names: ["/web-1"], State: "exited", Labels: { "scale-from-zero.service": "web" } },
])

describe("the engine client", () => {
  it("names the socket when the engine is unreachable", async () => {
    const socketPath = join(tmpdir(), `${uniqueName("absent")}.sock`)
    const query = createDockerServiceQuery({ socketPath })
    const error = await query.getReplicas("web", "default").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DockerEngineError)
    expect((error as Error).message).toContain(`unix://${socketPath}`)
    expect((error as Error).message).toMatch(/ENOENT/)
    await query.close()
  })

  it("fails a call the engine does not answer within requestTimeoutMs, and drops its connection", async () => {
    const standIn = await onSocket(() => {}) // never answers
    const query = createDockerServiceQuery({
      socketPath: standIn.socketPath,
      requestTimeoutMs: 150,
    })
    const started = performance.now()
    const error = await query.getReplicas("web", "default").catch((e: unknown) => e)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(error).toBeInstanceOf(DockerEngineError)
    expect((error as Error).message).toBe(
      `docker engine at unix://${standIn.socketPath}: GET /containers/json did not answer within 150ms`,
    )
    await expect.poll(() => standIn.sockets.size).toBe(0)
    await query.close()
  })

  it("gives up at once with the signal's reason when the caller aborts", async () => {
    const standIn = await onSocket(() => {})
    const query = createDockerServiceQuery({ socketPath: standIn.socketPath })
    const controller = new AbortController()
    const reason = new Error("client left")
    const pending = query.setReplicas("web", "default", 1, { signal: controller.signal })
    await expect.poll(() => standIn.sockets.size).toBe(1)
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
    await expect.poll(() => standIn.sockets.size).toBe(0)
    await expect(
      query.getReplicas("web", "default", { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason)
    await query.close()
  })

  it("carries the engine's message and status on an error answer", async () => {
    const standIn = await onSocket((request, response) => {
      if (request.url?.startsWith("/v1.41/containers/json")) {
        response.setHeader("content-type", "application/json")
        response.end(containerList)
        return
      }
      response.statusCode = 500
      response.end(JSON.stringify({ message: "runtime exploded" }))
    })
    const query = createDockerServiceQuery({ socketPath: standIn.socketPath })
    const error = await query.setReplicas("web", "default", 1).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DockerEngineError)
    expect(error).toBeInstanceOf(BackendError)
    expect(error).toMatchObject({
      name: "DockerEngineError",
      code: "ERR_BACKEND",
      status: 500,
      endpoint: `unix://${standIn.socketPath}`,
    })
    expect((error as Error).message).toContain(
      "POST /containers/abc/start answered 500: runtime exploded",
    )
    await query.close()
  })

  it("speaks TLS over TCP, checking the engine's certificate", async () => {
    const standIn = track(
      https.createServer({ cert: certificate, key }, (request, response) => {
        expect(request.url).toMatch(/^\/v1\.41\/containers\/json\?all=true&filters=/)
        response.setHeader("content-type", "application/json")
        response.end(containerList)
      }),
    )
    await new Promise<void>((resolve) => standIn.server.listen(0, "127.0.0.1", resolve))
    const { port } = standIn.server.address() as AddressInfo

    const trusting = createDockerServiceQuery({ host: "127.0.0.1", port, tls: { ca: certificate } })
    expect(trusting.endpoint).toBe(`https://127.0.0.1:${port}`)
    expect(await trusting.getReplicas("web", "default")).toMatchObject({
      replicas: 0,
      availableReplicas: 0,
    })
    await trusting.close()

    const strict = createDockerServiceQuery({ host: "127.0.0.1", port, tls: true })
    const error = await strict.getReplicas("web", "default").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DockerEngineError)
    expect((error as Error).message).toMatch(/self[- ]signed certificate/)
    await strict.close()
  })

  it("reads the scale labels by core's rules: a bad count falls back, a factor outside 1..100 throws", async () => {
    let labels: Record<string, string> = {}
    const standIn = await onSocket((_, response) => {
      response.setHeader("content-type", "application/json")
      response.end(
        JSON.stringify([{ Id: "abc", Names: ["/web-1"], State: "exited", Labels: labels }]),
      )
    })
    const query = createDockerServiceQuery({ socketPath: standIn.socketPath })
    labels = {
      "scale-from-zero.service": "web",
      "com.openfaas.scale.min": "two",
      "com.openfaas.scale.max": "-3",
      "com.openfaas.scale.factor": "25",
    }
    expect(await query.getReplicas("web", "default")).toMatchObject({
      minReplicas: 1,
      maxReplicas: 5,
      scalingFactor: 25,
    })
    labels = { "scale-from-zero.service": "web", "com.openfaas.scale.factor": "101" }
    await expect(query.getReplicas("web", "default")).rejects.toThrow(
      /bad scaling factor: label com\.openfaas\.scale\.factor="101"/,
    )
    await query.close()
  })

  it("rejects options that would make a call hang or never stop a container, naming each", () => {
    const rejected: [Parameters<typeof createDockerServiceQuery>[0], string][] = [
      [{ requestTimeoutMs: 0 }, "option requestTimeoutMs must be a positive number, got 0"],
      [{ stopTimeoutSeconds: -1 }, "option stopTimeoutSeconds must be a non-negative integer"],
      [{ stopTimeoutSeconds: 1.5 }, "got 1.5"],
      [{ pollIntervalMs: Number.NaN }, "option pollIntervalMs must be a positive number, got NaN"],
      [{ port: 70_000 }, "option port must be a TCP port (1..65535), got 70000"],
      [{ apiVersion: "1.41" }, 'option apiVersion must be a version like v1.41, got "1.41"'],
      [{ socketPath: "" }, 'option socketPath must be a non-empty string, got ""'],
      [{ defaultNamespace: "" }, "option defaultNamespace must be a non-empty string"],
      [
        null as never,
        "option options must be an object such as { socketPath, defaultNamespace }, got null",
      ],
      [
        "unix:///run/docker.sock" as never,
        'option options must be an object such as { socketPath, defaultNamespace }, got "unix:///run/docker.sock"',
      ],
      [
        { tls: "yes" as unknown as boolean },
        'option tls must be a boolean or TLS options, got "yes"',
      ],
      [{ watch: "no" as unknown as boolean }, 'option watch must be a boolean, got "no"'],
      [
        { onWatchError: 1 as unknown as () => void },
        "option onWatchError must be a function, got 1",
      ],
    ]
    for (const [options, message] of rejected) {
      expect(() => createDockerServiceQuery(options), JSON.stringify(options)).toThrow(message)
    }
    expect(() => createDockerServiceQuery({ requestTimeoutMs: 0 })).toThrow(TypeError)
  })
})

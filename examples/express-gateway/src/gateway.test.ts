import { type ChildProcess, spawn } from "node:child_process"
import { request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { eventually, isAlive } from "@scale-from-zero/test-kit/processes"
import { afterEach, describe, expect, it } from "vitest"
import { createGateway } from "./gateway.js"

type Gateway = ReturnType<typeof createGateway>

const running: { gateway: Gateway; server: Server; pids: Set<number> }[] = []

/** A gateway on a free loopback port; its log lines are collected in `lines`. */
async function startGateway(options: { idleAfterMs?: number } = {}) {
  const lines: string[] = []
  const gateway = createGateway({ ...options, log: (line: string) => lines.push(line) })
  const server = gateway.app.listen(0, "127.0.0.1")
  await new Promise((resolve) => server.once("listening", resolve))
  const pids = new Set<number>()
  running.push({ gateway, server, pids })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const hello = async (query = "") => {
    const response = await fetch(`${base}/function/hello${query}`)
    const body = (await response.json()) as { message: string; pid: number }
    pids.add(body.pid)
    return { response, body }
  }
  return { gateway, base, lines, hello }
}

afterEach(async () => {
  for (const { gateway, server, pids } of running.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await gateway.close()
    for (const pid of pids) expect(isAlive(pid), `service pid ${pid}`).toBe(false)
  }
})

describe("the Express gateway example", () => {
  it("starts a group's dependency first: a request for notes starts store, then notes", async () => {
    const { base, lines, gateway } = await startGateway()
    const response = await fetch(`${base}/function/notes?name=group`)
    expect(response.status).toBe(200)
    const body = (await response.json()) as { message: string; pid: number }
    expect(body.message).toBe("Hello, group!")
    running.at(-1)?.pids.add(body.pid)
    const started = lines.filter((line) => / started pid /.test(line)).map((l) => l.split(":")[0])
    expect(started).toEqual(["store", "notes"])
    const readyAt = lines.findIndex((line) => /^store: ready after/.test(line))
    const notesUp = lines.findIndex((line) => /^notes: no replica ready .* scale-up/.test(line))
    expect(readyAt).toBeGreaterThanOrEqual(0)
    expect(lines.findIndex((line) => /^notes: started pid/.test(line))).toBeGreaterThan(readyAt)
    expect(notesUp).toBeGreaterThanOrEqual(0)
    for (const name of ["store", "notes"]) {
      for (const replica of gateway.services.status(name).processes)
        running.at(-1)?.pids.add(replica.pid)
    }
  })

  it("starts a service on its first request, holds the request until it answers, then serves warm", async () => {
    const { gateway, lines, hello } = await startGateway()
    expect(gateway.services.status("hello").processes).toEqual([])

    const cold = await hello("?name=cold")
    expect(cold.response.status).toBe(200)
    expect(cold.body.message).toBe("Hello, cold!")
    expect(cold.response.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
    expect(lines).toContainEqual(expect.stringMatching(/^hello: no replica ready .* scale-up to 1/))
    expect(lines).toContainEqual(expect.stringMatching(/^hello: started pid \d+ on port \d+$/))
    expect(lines).toContainEqual(expect.stringMatching(/^hello: ready after \d+ ms, releasing 1/))

    const warm = await hello()
    expect(warm.response.status).toBe(200)
    expect(warm.response.headers.get("server-timing")).toBeNull()
    expect(warm.body.pid).toBe(cold.body.pid)
  })

  it("serves 200 concurrent cold requests with one started process", async () => {
    const { gateway, lines, hello } = await startGateway()
    const answers = await Promise.all(Array.from({ length: 200 }, () => hello()))
    expect(answers.map((a) => a.response.status)).toEqual(Array(200).fill(200))
    expect(new Set(answers.map((a) => a.body.pid)).size).toBe(1)
    expect(lines.filter((line) => line.startsWith("hello: started pid"))).toHaveLength(1)
    expect(lines.filter((line) => line.includes("scale-up to 1 requested"))).toHaveLength(1)
    expect(gateway.services.status("hello").processes).toHaveLength(1)
  })

  it("reports a crashed service process and serves the next request from its replacement", async () => {
    const { lines, hello } = await startGateway()
    const before = await hello()
    process.kill(before.body.pid, "SIGKILL")
    await eventually("crash reported", () =>
      lines.find(
        (line) => line === `hello: pid ${before.body.pid} crashed (SIGKILL) — it will be replaced`,
      ),
    )
    // At once, while the gate's cached status may still say the old replica is ready.
    const after = await hello()
    expect(after.response.status).toBe(200)
    expect(after.body.pid).not.toBe(before.body.pid)
    expect(isAlive(before.body.pid)).toBe(false)
  })

  it("streams request and response bodies through the proxy", async () => {
    const { base } = await startGateway()
    const { port } = new URL(base)
    const chunks: string[] = []
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/function/echo" })
    const response = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
      req.once("response", resolve)
      req.once("error", reject)
      req.write("first;")
    })
    expect(response.statusCode).toBe(200)
    response.setEncoding("utf8")
    response.on("data", (chunk: string) => chunks.push(chunk))
    // The first part comes back while the request is still open: nothing is buffered.
    await eventually("first part echoed", () => (chunks.join("") === "first;" ? true : undefined))
    req.end("second")
    await new Promise((resolve) => response.once("end", resolve))
    expect(chunks.join("")).toBe("first;second")
  })

  it("stops an idle service, but not while a request to it is still streaming", async () => {
    const { gateway, base, lines, hello } = await startGateway({ idleAfterMs: 300 })
    const { pid } = (await hello()).body

    // An echo request kept open for longer than the idle time.
    const { port } = new URL(base)
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/function/echo" })
    const response = await new Promise<import("node:http").IncomingMessage>((resolve) => {
      req.once("response", resolve)
      req.write("still here")
    })
    response.resume()
    await eventually("hello scaled down", () =>
      lines.find((line) => /^hello: idle for .* → scaled to 0$/.test(line)),
    )
    // The pid is gone a moment before the provider has reaped it: wait for both.
    await eventually("hello stopped", () =>
      isAlive(pid) || gateway.services.status("hello").processes.length > 0 ? undefined : true,
    )
    expect(gateway.services.status("hello")).toMatchObject({ replicas: 0, processes: [] })
    // echo has been busy all along.
    expect(lines.some((line) => line.startsWith("echo: idle"))).toBe(false)
    expect(gateway.services.status("echo").availableReplicas).toBe(1)
    req.end()
    await new Promise((resolve) => response.once("end", resolve))
    await eventually("echo scaled down once done", () =>
      lines.find((line) => /^echo: idle for .* → scaled to 0$/.test(line)),
    )

    // The next request starts hello again.
    const again = await hello()
    expect(again.response.headers.get("server-timing")).toMatch(/^cold-start/)
    expect(again.body.pid).not.toBe(pid)
  })

  it("npm start: prints the curl commands, and leaves no service process behind on Ctrl-C", async () => {
    const main = fileURLToPath(new URL("./main.js", import.meta.url))
    const child: ChildProcess = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", main],
      {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
        env: { ...process.env, PORT: "0" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    )
    try {
      const output: string[] = []
      createInterface({ input: child.stdout! }).on("line", (line) => output.push(line))
      const base = await eventually(
        "gateway listening",
        () => output[0]?.match(/on (http:\/\/127\.0\.0\.1:\d+)$/)?.[1],
        15_000,
      )
      await eventually("curl hints", () =>
        output.some((l) => l.includes("curl -i")) ? true : undefined,
      )
      expect(output.join("\n")).toContain(`curl -i ${base}/function/hello`)

      const body = (await (await fetch(`${base}/function/hello`)).json()) as { pid: number }
      expect(isAlive(body.pid)).toBe(true)
      const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)))
      child.kill("SIGINT")
      expect(await exited).toBe(0)
      expect(isAlive(body.pid)).toBe(false)
      expect(output.some((line) => line.includes("SIGINT: stopping the gateway"))).toBe(true)
    } finally {
      child.kill("SIGKILL")
    }
  })
})

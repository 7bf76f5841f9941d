import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import {
  bundleWorker,
  startWorkerd,
  WORKER_COMPATIBILITY,
  workerdSkipReason,
} from "@scale-from-zero/test-kit/workerd"
import type { Miniflare } from "miniflare"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

// Idle scale-down on Workers: workerd drops a timer with the request that started it, so the
// README's scheduled handler (a Cron Trigger) runs the idle check. Driven here through miniflare.
interface Stats {
  setReplicas: number
  idle: { replicas: number }
  busy: { replicas: number }
  socket: { replicas: number }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(workerdSkipReason !== undefined)("in workerd (miniflare)", () => {
  let miniflare: Miniflare | undefined
  // The upstream answers /function/idle at once and keeps /function/busy open until released.
  const held: ServerResponse[] = []
  const upstream = createServer((request, response) => {
    if (request.url?.startsWith("/function/busy")) {
      response.writeHead(200, { "content-type": "text/plain" })
      response.write("streaming…")
      held.push(response)
      return
    }
    response.end("ok")
  })

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve))
    miniflare = await startWorkerd({
      modules: true,
      script: await bundleWorker("../test/idle-worker.ts", import.meta.url),
      ...WORKER_COMPATIBILITY,
      bindings: { UPSTREAM: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` },
    })
  }, 30_000)

  afterAll(async () => {
    for (const response of held) response.end()
    await miniflare?.dispose()
    await new Promise((resolve) => upstream.close(resolve))
  })

  const stats = async () =>
    (await (await miniflare!.dispatchFetch("http://gateway/__stats")).json()) as Stats
  // A Fetcher's scheduled(): miniflare types it from @cloudflare/workers-types, not installed here.
  const scheduled = async () => {
    const worker = (await miniflare!.getWorker()) as unknown as {
      scheduled(options: { cron: string }): Promise<{ outcome: string }>
    }
    return worker.scheduled({ cron: "* * * * *" })
  }

  it("scales a service idle past its time down once per scheduled event, and a busy one not", async () => {
    const idle = await miniflare!.dispatchFetch("http://gateway/function/idle")
    expect(await idle.text()).toBe("ok")
    const busy = await miniflare!.dispatchFetch("http://gateway/function/busy")
    expect(busy.status).toBe(200)
    const busyBody = busy.text()
    await settle(600) // past the services' 300 ms zero-duration
    // Without the scheduled event nothing happens: the timer died with its request.
    expect(await stats()).toMatchObject({ setReplicas: 0 })

    expect(await scheduled()).toMatchObject({ outcome: "ok" })
    expect(await stats()).toMatchObject({
      setReplicas: 1,
      idle: { replicas: 0 },
      busy: { replicas: 1 },
    })
    expect(await scheduled()).toMatchObject({ outcome: "ok" })
    expect(await stats()).toMatchObject({ setReplicas: 1, busy: { replicas: 1 } })

    // The stream ends; once idle past its time, the next scheduled event scales it down.
    for (const response of held.splice(0)) response.end()
    expect(await busyBody).toBe("streaming…")
    await settle(600)
    expect(await scheduled()).toMatchObject({ outcome: "ok" })
    expect(await stats()).toMatchObject({ setReplicas: 2, busy: { replicas: 0 } })
  })

  it("holds a WebSocket upgrade while its service wakes, and counts the open socket until it closes (countWebSockets)", async () => {
    const upgraded = await miniflare!.dispatchFetch("http://gateway/function/socket/ws", {
      headers: { upgrade: "websocket" },
    })
    expect(upgraded.status).toBe(101)
    expect((await stats()).socket).toMatchObject({ replicas: 1 })
    const socket = upgraded.webSocket!
    socket.accept()
    const echoed = new Promise<string>((resolve) => {
      socket.addEventListener("message", (event) => resolve(String(event.data)), { once: true })
    })
    socket.send("hello")
    expect(await echoed).toBe("hello")
    await settle(600) // open and quiet past the 300 ms zero-duration
    expect(await scheduled()).toMatchObject({ outcome: "ok" })
    expect((await stats()).socket).toMatchObject({ replicas: 1 })

    const closed = new Promise((resolve) => socket.addEventListener("close", resolve))
    socket.close(1000, "done")
    await closed
    await settle(600)
    expect(await scheduled()).toMatchObject({ outcome: "ok" })
    expect((await stats()).socket).toMatchObject({ replicas: 0 })
  })
})

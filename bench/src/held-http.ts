// Heap per request held through real HTTP, scaleFromZero (Express) against a bare Express app
// holding the same requests (its handler never answers): `held-http.ts N`, run with --expose-gc.
import { Agent, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { scaleFromZero } from "@scale-from-zero/express"
import express from "express"
import { createSimulatedBackend } from "./simulated-backend.js"

const held = Number(process.argv[2] ?? 2000)
const collect = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function heapHolding(variant: "bare" | "gate"): Promise<number> {
  const backend = createSimulatedBackend({ svc: 3_600_000 }, { push: true })
  const app = express()
  let arrived = 0
  const gate =
    variant === "gate"
      ? scaleFromZero({ serviceQuery: backend, timeout: 600_000, maxWaiting: held + 10 })
      : undefined
  app.use((_req, _res, next) => {
    arrived++
    next()
  })
  if (gate !== undefined) app.use(gate)
  // Bare: held by never answering. With the gate: never reached (the service never starts).
  app.use(() => {})
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s))
  })
  const { port } = server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: held + 10 })
  const send = () =>
    httpRequest({ port, host: "127.0.0.1", path: "/function/svc/x", agent })
      .on("error", () => {})
      .end()
  send() // the first: warms the code paths
  while (arrived < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  await collect()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < held; i++) send()
  while (arrived < held + 1) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 50))
  await collect()
  const after = process.memoryUsage().heapUsed
  agent.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  gate?.close()
  backend.close()
  await collect()
  return (after - before) / held
}

for (let round = 0; round < 3; round++) {
  const bare = await heapHolding("bare")
  const gate = await heapHolding("gate")
  process.stdout.write(
    `${JSON.stringify({ held, bareBytesEach: Math.round(bare), gateBytesEach: Math.round(gate), addedBytesEach: Math.round(gate - bare) })}\n`,
  )
}

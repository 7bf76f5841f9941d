// gate.admit of a warm request (cached, fresh, ready) in a tight loop: ns per call, and heap
// bytes allocated per call (gc off around the loop). Not part of `pnpm bench`.
import { createGate } from "@scale-from-zero/core"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"

const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
const gate = createGate({ serviceQuery, cacheExpiry: 3_600_000 })
await gate.scaler.scale("echo", "openfaas-fn")
const request = { method: "GET", path: "/function/echo/x", headers: { get: () => undefined } }
const loops = 2_000_000
for (let i = 0; i < loops; i++) gate.admit(request)
const figures = []
for (let round = 0; round < 5; round++) {
  globalThis.gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < loops; i++) gate.admit(request)
  const ns = Number(process.hrtime.bigint() - t0) / loops
  const bytes = (process.memoryUsage().heapUsed - heapBefore) / loops
  figures.push({ ns: Math.round(ns * 10) / 10, bytesPerCall: Math.round(bytes * 100) / 100 })
}
console.log(JSON.stringify(figures))
gate.close()
serviceQuery.close()

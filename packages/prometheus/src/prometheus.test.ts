import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { getRequestListener } from "@hono/node-server"
import {
  createMemoryServiceQuery,
  type MemoryServiceQueryOptions,
} from "@scale-from-zero/core/testing"
import { scaleFromZero as expressScaleFromZero } from "@scale-from-zero/express"
import { scaleFromZero as honoScaleFromZero } from "@scale-from-zero/hono"
import { scaleFromZero as koaScaleFromZero } from "@scale-from-zero/koa"
import express from "express"
import { Hono } from "hono"
import Koa from "koa"
import { Registry } from "prom-client"
import supertest from "supertest"
import { afterEach, describe, expect, it } from "vitest"
import { prometheusMetrics } from "./index.js"

/** One sample of the text exposition format: `name{label="value",…} number`. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses Prometheus's text format (version 0.0.4), as a scraper reads it. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    const labelText = match[2] ?? ""
    for (const label of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return samples
}

/** The value of the one sample with this name and exactly these labels. */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )
  if (found.length !== 1)
    throw new Error(`${found.length} samples ${name} ${JSON.stringify(labels)}`)
  return found[0]!.value
}

const ECHO = { service: "echo", namespace: "openfaas-fn" }
const UNKNOWN = { service: "", namespace: "" }
const servers: Server[] = []
const closers: (() => void)[] = []

afterEach(async () => {
  for (const close of closers.splice(0)) close()
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

async function listen(server: Server) {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** The README's Express app: the gate with the metrics, and /metrics. */
async function expressApp(
  services: NonNullable<MemoryServiceQueryOptions["services"]>,
  gate: { maxWaitingPerService?: number } = {},
) {
  const registry = new Registry()
  const serviceQuery = createMemoryServiceQuery({ services })
  const middleware = expressScaleFromZero({
    serviceQuery,
    functionPollInterval: 20,
    ...gate,
    observers: [prometheusMetrics({ registry })],
  })
  closers.push(
    () => middleware.gate.close(),
    () => serviceQuery.close(),
  )
  const app = express()
  app.get("/metrics", async (_req, res) => {
    res.set("content-type", registry.contentType)
    res.send(await registry.metrics())
  })
  app.use(middleware)
  app.use((_req, res) => {
    res.json({ ok: true })
  })
  const url = await listen(createServer(app))
  const scrape = async () => {
    const response = await fetch(`${url}/metrics`)
    expect(response.headers.get("content-type")).toBe(registry.contentType)
    return parseExposition(await response.text())
  }
  return { url, http: supertest(url), scrape, registry }
}

describe("prometheusMetrics", () => {
  it("after a cold start, a 404 and a shed request, each series holds the right value", async () => {
    const { url, http, scrape } = await expressApp(
      { echo: { startupDelayMs: 300 } },
      { maxWaitingPerService: 1 },
    )
    const cold = fetch(`${url}/function/echo/a`)
    // The second request for the waking service is over the per-service limit: shed.
    const deadline = Date.now() + 3000
    while (Date.now() < deadline) {
      const held = (await scrape()).find((s) => s.name === "scale_from_zero_requests_held")
      if (held?.value === 1) break
    }
    await http.get("/function/echo/b").expect(503)
    expect((await cold).status).toBe(200)
    await http.get("/function/echo/warm").expect(200)
    await http.get("/function/ghost/x").expect(404)

    const samples = await scrape()
    const metric = (name: string) => `scale_from_zero_${name}`
    expect(sampleValue(samples, metric("requests_total"), { ...ECHO, verdict: "held" })).toBe(1)
    expect(sampleValue(samples, metric("requests_total"), { ...ECHO, verdict: "pass" })).toBe(1)
    expect(sampleValue(samples, metric("requests_total"), { ...ECHO, verdict: "503" })).toBe(1)
    expect(sampleValue(samples, metric("requests_total"), { ...UNKNOWN, verdict: "404" })).toBe(1)
    expect(
      sampleValue(samples, metric("cold_start_seconds_count"), { ...ECHO, outcome: "ready" }),
    ).toBe(1)
    const coldSeconds = sampleValue(samples, metric("cold_start_seconds_sum"), {
      ...ECHO,
      outcome: "ready",
    })
    expect(coldSeconds).toBeGreaterThanOrEqual(0.29)
    expect(coldSeconds).toBeLessThan(10)
    // 300 ms of startup falls in the 0.5 s bucket, not the 0.25 s one.
    const bucket = (le: string) =>
      sampleValue(samples, metric("cold_start_seconds_bucket"), { ...ECHO, outcome: "ready", le })
    expect(bucket("0.25")).toBe(0)
    expect(bucket("+Inf")).toBe(1)
    expect(
      sampleValue(samples, metric("cold_start_seconds_count"), { ...ECHO, outcome: "overloaded" }),
    ).toBe(1)
    expect(
      sampleValue(samples, metric("cold_start_seconds_count"), {
        ...UNKNOWN,
        outcome: "not-found",
      }),
    ).toBe(1)
    expect(sampleValue(samples, metric("requests_held"), ECHO)).toBe(0)
    expect(sampleValue(samples, metric("scale_ups_total"), ECHO)).toBe(1)
    expect(
      sampleValue(samples, metric("backend_calls_total"), { call: "setReplicas", result: "ok" }),
    ).toBe(1)
    expect(
      sampleValue(samples, metric("backend_calls_total"), {
        call: "getReplicas",
        result: "not-found",
      }),
    ).toBe(1)
    expect(
      sampleValue(samples, metric("backend_call_duration_seconds_count"), {
        call: "setReplicas",
        result: "ok",
      }),
    ).toBe(1)
    // No series names the unknown service.
    expect(samples.some((sample) => sample.labels.service === "ghost")).toBe(false)
  })

  it("counts requests held now while they wait", async () => {
    const { url, scrape } = await expressApp({ echo: { startupDelayMs: 500 } })
    const held = [fetch(`${url}/function/echo/1`), fetch(`${url}/function/echo/2`)]
    const deadline = Date.now() + 3000
    let now = 0
    while (now !== 2 && Date.now() < deadline) {
      now = (await scrape())
        .filter((sample) => sample.name === "scale_from_zero_requests_held")
        .reduce((total, sample) => total + sample.value, 0)
    }
    expect(now).toBe(2)
    expect((await Promise.all(held)).map((response) => response.status)).toEqual([200, 200])
    expect(sampleValue(await scrape(), "scale_from_zero_requests_held", ECHO)).toBe(0)
  })

  it("10 000 requests for random unknown names add no series", async () => {
    const { url, scrape } = await expressApp({ echo: { replicas: 1 } })
    await fetch(`${url}/function/echo/x`)
    // The first unknown name makes the unknown-service series (bounded: one set in all).
    await fetch(`${url}/function/first-unknown/x`)
    const before = await scrape()
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const name = `r${Math.random().toString(36).slice(2, 10)}`
          const response = await fetch(`${url}/function/${name}/x`)
          await response.arrayBuffer()
          expect(response.status).toBe(404)
        }),
      )
    }
    const after = await scrape()
    const series = (samples: Sample[]) =>
      new Set(samples.map((sample) => `${sample.name}${JSON.stringify(sample.labels)}`))
    expect([...series(after)].filter((key) => !series(before).has(key))).toEqual([])
    expect(after.length).toBe(before.length)
    expect(
      sampleValue(after, "scale_from_zero_requests_total", { ...UNKNOWN, verdict: "404" }),
    ).toBe(10_001)
  }, 120_000)

  it("serves /metrics from Koa and Hono as the README shows", async () => {
    const registry = new Registry()
    const serviceQuery = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
    closers.push(() => serviceQuery.close())

    const koaGate = koaScaleFromZero({ serviceQuery, observers: [prometheusMetrics({ registry })] })
    closers.push(() => koaGate.gate.close())
    const koa = new Koa()
    koa.use(async (ctx, next) => {
      if (ctx.path !== "/metrics") return next()
      ctx.type = registry.contentType
      ctx.body = await registry.metrics()
    })
    koa.use(koaGate)
    koa.use((ctx) => {
      ctx.body = "ok"
    })
    const koaUrl = await listen(createServer(koa.callback()))

    // A second gate on the same registry shares its metrics.
    const honoGate = honoScaleFromZero({
      serviceQuery,
      observers: [prometheusMetrics({ registry })],
    })
    closers.push(() => honoGate.gate.close())
    const hono = new Hono()
    hono.get("/metrics", async (c) =>
      c.body(await registry.metrics(), 200, { "content-type": registry.contentType }),
    )
    hono.use(honoGate)
    hono.all("*", (c) => c.text("ok"))
    const honoUrl = await listen(createServer(getRequestListener(hono.fetch)))

    for (const url of [koaUrl, honoUrl]) {
      expect((await fetch(`${url}/function/echo/a`)).status).toBe(200)
      expect((await fetch(`${url}/function/echo/b`)).status).toBe(200)
    }
    for (const url of [koaUrl, honoUrl]) {
      const response = await fetch(`${url}/metrics`)
      expect(response.headers.get("content-type")).toBe(registry.contentType)
      const samples = parseExposition(await response.text())
      // Each gate read the status once (held), then passed warm.
      expect(
        sampleValue(samples, "scale_from_zero_requests_total", { ...ECHO, verdict: "held" }),
      ).toBe(2)
      expect(
        sampleValue(samples, "scale_from_zero_requests_total", { ...ECHO, verdict: "pass" }),
      ).toBe(2)
    }
  })

  it("rejects options it cannot use, naming them", () => {
    expect(() => prometheusMetrics({ registry: {} as Registry })).toThrow(
      "option registry must be a prom-client Registry, got an object",
    )
    expect(() => prometheusMetrics({ coldStartBucketsSeconds: [1, 0.5] })).toThrow(
      "option coldStartBucketsSeconds must be a non-empty array of increasing positive numbers, got an array",
    )
    expect(() => prometheusMetrics({ backendBucketsSeconds: [] })).toThrow(
      "option backendBucketsSeconds must be",
    )
  })
})

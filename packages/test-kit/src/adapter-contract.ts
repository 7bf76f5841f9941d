// One behaviour contract that every scale-from-zero adapter runs against its real framework.
// Each harness builds the same app (see adapter-scenario.ts):
//   scaleFromZero(options) in front of everything;
//   /system/scale-function/* → horizontalScaling() → a handler answering ScaleEchoAnswer JSON;
//   anything else → a handler answering EchoAnswer JSON about the body it received.

import { randomBytes } from "node:crypto"
import { request as httpRequest } from "node:http"
import supertest from "supertest"
import { afterEach, describe, expect, it, vi } from "vitest"
import {
  type ContractScenario,
  type ContractStats,
  echoAnswer,
  SCALE_PATH_PREFIX,
  STREAM_EVENTS,
  STREAM_EVERY_MS,
  STREAM_PATH,
} from "./adapter-scenario.js"

export * from "./adapter-scenario.js"

export interface RunningApp {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string
  stats(): Promise<ContractStats>
  /** The backend behind the gate's back; the cases that use it run on Node only. */
  scaleExternally?(service: string, replicas: number): Promise<void>
  /** `gate.sleep(service, default namespace, { drainMs })`; the cases that use it run on Node only. */
  sleep?(service: string, drainMs: number): Promise<boolean>
  /** The adapter middleware's own `close()`; the cases that use it run on Node only. */
  closeMiddleware?(): void
  /** Stops the server and closes the gate and the backend. */
  close(): Promise<void>
}

export const CONTRACT_CASES = [
  "pass-through",
  "invalid-name",
  "unknown-service",
  "warm",
  "cold-start",
  "backend-error",
  "timeout",
  "shed",
  "concurrent-cold",
  "large-body",
  "client-gone",
  "waiting-page",
  "in-flight",
  "streamed-body",
  "horizontal-scaling",
  "external-scale-down",
  "hung-backend",
  "browser-wake",
  "problem-json",
  "group",
  "group-idle",
  "sleep-drain",
  "route-policies",
  "prewarm",
  "shutdown",
] as const

export type ContractCase = (typeof CONTRACT_CASES)[number]

export interface AdapterHarness {
  start(scenario: ContractScenario): Promise<RunningApp>
  /** The cases this runtime runs; every case when absent. */
  cases?: readonly ContractCase[]
}

const SERVICE = "/function/echo"
const ONE_MIB = 1024 * 1024

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A request whose connection the test can cut while it is held. */
function heldRequest(url: string, path: string) {
  const request = httpRequest(`${url}${path}`, { agent: false })
  const outcome = new Promise<string>((resolve) => {
    request.on("response", (response) => resolve(`answered ${response.statusCode}`))
    request.on("error", (error) => resolve(`closed: ${error.message}`))
  })
  request.end()
  return { cut: () => request.destroy(), outcome }
}

/** A POST whose body the test finishes when it likes: the request stays in flight until then. */
function slowRequest(url: string, path: string) {
  const request = httpRequest(`${url}${path}`, { method: "POST", agent: false })
  const status = new Promise<number | undefined>((resolve, reject) => {
    request.on("response", (response) => {
      response.resume()
      response.on("end", () => resolve(response.statusCode))
    })
    request.on("error", reject)
  })
  request.write("first part, ")
  return { finish: () => request.end("last part"), status }
}

export function runAdapterContract(adapterName: string, harness: AdapterHarness): void {
  const runs = (name: ContractCase) => harness.cases === undefined || harness.cases.includes(name)
  // A case this runtime cannot show is left out, not reported as skipped.
  const contractCase = (name: ContractCase, title: string, test: () => Promise<void>) => {
    if (runs(name)) it(title, test)
  }

  describe(`${adapterName}: scale-from-zero adapter contract`, () => {
    let app: RunningApp | undefined
    const start = async (scenario: ContractScenario) => {
      app = await harness.start(scenario)
      return { app, http: supertest(app.url) }
    }
    afterEach(async () => {
      await app?.close()
      app = undefined
    })

    contractCase(
      "pass-through",
      "passes a request that is not for a service through untouched",
      async () => {
        const { app, http } = await start({ services: { echo: {} } })
        const response = await http.post("/healthz?probe=1").send("ping").expect(200)
        expect(response.body).toEqual(await echoAnswer("POST", "/healthz?probe=1", bytes("ping")))
        expect(response.headers["server-timing"]).toBeUndefined()
        expect(await app.stats()).toMatchObject({ getReplicas: 0, setReplicas: 0 })
      },
    )

    contractCase(
      "invalid-name",
      "answers 400 for an invalid service name or namespace, asking the backend nothing",
      async () => {
        const { app, http } = await start({ services: { echo: {} } })
        const badName = await http.get("/function/bad%20name").expect(400)
        expect(badName.text).toContain("invalid service name")
        const badNamespace = await http.get("/function/echo.bad%20space/x").expect(400)
        expect(badNamespace.text).toContain("invalid service namespace")
        expect(await app.stats()).toMatchObject({ getReplicas: 0, setReplicas: 0 })
      },
    )

    contractCase(
      "unknown-service",
      "answers 404 for a service the backend does not know",
      async () => {
        const { app, http } = await start({ services: { echo: {} } })
        const response = await http.get("/function/missing/path").expect(404)
        expect(response.text).toMatch(/^error finding function missing\.openfaas-fn: /)
        expect((await app.stats()).setReplicas).toBe(0)
      },
    )

    contractCase("warm", "passes a ready service at once, without Server-Timing", async () => {
      const { app, http } = await start({ services: { echo: { replicas: 1 } } })
      const response = await http.get(`${SERVICE}/hello?x=1`).expect(200)
      expect(response.body).toMatchObject({ method: "GET", path: `${SERVICE}/hello?x=1` })
      expect(response.headers["server-timing"]).toBeUndefined()
      expect((await app.stats()).setReplicas).toBe(0)
    })

    contractCase(
      "cold-start",
      "holds a request for a cold service until it is ready, then passes it with Server-Timing",
      async () => {
        const { app, http } = await start({ services: { echo: { startupDelayMs: 300 } } })
        const cold = await http.get(`${SERVICE}/hello`).expect(200)
        expect(cold.body).toMatchObject({ method: "GET", path: `${SERVICE}/hello` })
        const timing = /^cold-start;dur=(\d+)$/.exec(String(cold.headers["server-timing"]))
        expect(timing, String(cold.headers["server-timing"])).not.toBeNull()
        expect(Number(timing?.[1])).toBeGreaterThanOrEqual(250)
        const warm = await http.get(`${SERVICE}/hello`).expect(200)
        expect(warm.headers["server-timing"]).toBeUndefined()
        expect((await app.stats()).setReplicas).toBe(1)
      },
    )

    contractCase("backend-error", "answers 502 when the backend fails", async () => {
      const { http } = await start({ services: { echo: {} }, failWith: "backend down" })
      const response = await http.get(`${SERVICE}/`).expect(502)
      expect(response.text).toContain("backend down")
    })

    contractCase(
      "timeout",
      "answers 504 with Retry-After when the service is not ready in time",
      async () => {
        const { http } = await start({
          services: { echo: { startupDelayMs: 10_000 } },
          gate: { timeout: 300, retryAfter: 3 },
        })
        const started = Date.now()
        const response = await http.get(`${SERVICE}/`).expect(504)
        expect(Date.now() - started).toBeLessThan(3000)
        expect(response.headers["retry-after"]).toBe("3")
      },
    )

    contractCase(
      "shed",
      "answers 503 with Retry-After once maxWaiting requests are held, and serves those held",
      async () => {
        const { app, http } = await start({
          services: { echo: { startupDelayMs: 1500 } },
          gate: { maxWaiting: 2, retryAfter: 2 },
        })
        const held = [http.get(`${SERVICE}/a`), http.get(`${SERVICE}/b`)].map((r) =>
          r.then((x) => x),
        )
        await until("two held requests", async () => (await app.stats()).totalWaiting === 2)
        const shed = await http.get(`${SERVICE}/c`).expect(503)
        expect(shed.headers["retry-after"]).toBe("2")
        expect(shed.text).toContain("limit 2")
        for (const response of await Promise.all(held)) expect(response.status).toBe(200)
      },
    )

    contractCase(
      "concurrent-cold",
      "scales up once for 200 concurrent cold requests, which all succeed",
      async () => {
        const { app, http } = await start({ services: { echo: { startupDelayMs: 300 } } })
        const responses = await Promise.all(
          Array.from({ length: 200 }, (_, i) => http.get(`${SERVICE}/${i}`).then((x) => x)),
        )
        expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200))
        expect(responses.map((r) => r.body.path)).toEqual(
          responses.map((_, i) => `${SERVICE}/${i}`),
        )
        expect((await app.stats()).setReplicas).toBe(1)
      },
    )

    contractCase(
      "large-body",
      "delivers a 1 MiB POST body intact to the next handler after a cold start",
      async () => {
        const { http } = await start({ services: { echo: { startupDelayMs: 200 } } })
        const body = randomBytes(ONE_MIB)
        const response = await http
          .post(`${SERVICE}/upload`)
          .set("content-type", "application/octet-stream")
          .send(body)
          .expect(200)
        expect(response.body).toEqual(await echoAnswer("POST", `${SERVICE}/upload`, body))
        expect(response.headers["server-timing"]).toMatch(/^cold-start;dur=\d+$/)
      },
    )

    contractCase(
      "client-gone",
      "forgets a client that disconnects while held, leaving the other held requests undisturbed",
      async () => {
        const { app, http } = await start({ services: { echo: { startupDelayMs: 1500 } } })
        const leaving = heldRequest(app.url, `${SERVICE}/leaving`)
        const staying = http.get(`${SERVICE}/staying`).then((x) => x)
        await until("two held requests", async () => (await app.stats()).totalWaiting === 2)
        leaving.cut()
        expect(await leaving.outcome).toMatch(/^closed/)
        await until("the gone client's wait to end", async () => {
          return (await app.stats()).totalWaiting === 1
        })
        expect((await staying).status).toBe(200)
        // The wake's watch is gone; the one left keeps the ready service's cache entry right.
        expect(await app.stats()).toMatchObject({ totalWaiting: 0, activeWatches: 1 })
      },
    )

    contractCase(
      "client-gone",
      "stops waiting for readiness when the only held client disconnects",
      async () => {
        const { app } = await start({ services: { echo: { startupDelayMs: 10_000 } } })
        const leaving = heldRequest(app.url, `${SERVICE}/`)
        await until("a held request", async () => (await app.stats()).totalWaiting === 1)
        leaving.cut()
        await until("no wait and no watch left", async () => {
          const stats = await app.stats()
          return stats.totalWaiting === 0 && stats.activeWatches === 0
        })
      },
    )

    contractCase(
      "waiting-page",
      "shows a browser a waiting page while an API client stays held",
      async () => {
        const { app, http } = await start({
          services: { echo: { startupDelayMs: 1000 } },
          gate: { waitingPage: { afterMs: 100, refreshSeconds: 1 } },
        })
        // The browser comes first: its request starts the scale-up, then is answered long
        // before the service is ready, and the API client's wait must not suffer for it.
        const page = http
          .get(`${SERVICE}/page`)
          .set("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
          .then((x) => x)
        await until("the browser held", async () => (await app.stats()).totalWaiting === 1)
        const api = http
          .get(`${SERVICE}/api`)
          .set("accept", "application/json")
          .then((x) => x)
        const shown = await page
        expect(shown.status).toBe(503)
        expect(shown.headers["content-type"]).toMatch(/^text\/html/)
        expect(shown.headers["retry-after"]).toBeDefined()
        expect(shown.text).toContain('http-equiv="refresh" content="1"')
        expect(shown.text).toContain("echo.openfaas-fn")
        const held = await api
        expect(held.status).toBe(200)
        expect(held.headers["server-timing"]).toMatch(/^cold-start;dur=\d+$/)
        const ready = await http.get(`${SERVICE}/page`).set("accept", "text/html").expect(200)
        expect(ready.body).toMatchObject({ path: `${SERVICE}/page` })
      },
    )

    contractCase("waiting-page", "holds browsers too when the waiting page is off", async () => {
      const { http } = await start({
        services: { echo: { startupDelayMs: 300 } },
        gate: { waitingPage: false },
      })
      const response = await http.get(`${SERVICE}/page`).set("accept", "text/html").expect(200)
      expect(response.headers["server-timing"]).toMatch(/^cold-start;dur=\d+$/)
    })

    contractCase(
      "in-flight",
      "with scaleToZero, counts a request in flight until its response ends, then scales down",
      async () => {
        const { app, http } = await start({
          services: { echo: { replicas: 1 } },
          gate: { scaleToZero: { allServices: true, idleAfterMs: 400, checkIntervalMs: 20 } },
        })
        await http.get(`${SERVICE}/quick`).expect(200)
        await http.get(`${SERVICE}/quick`).expect(200)
        // Counted twice as finished, either request would leave the slow one uncounted.
        const slow = slowRequest(app.url, `${SERVICE}/slow`)
        await new Promise((resolve) => setTimeout(resolve, 900))
        expect((await app.stats()).setReplicas).toBe(0)
        slow.finish()
        expect(await slow.status).toBe(200)
        await until("the idle scale-down", async () => (await app.stats()).setReplicas === 1)
      },
    )

    contractCase(
      "streamed-body",
      "with scaleToZero, counts a streamed (SSE) body in flight until its last byte, then scales down once (where the idle timer outlives requests)",
      async () => {
        const { app } = await start({
          services: { echo: { replicas: 1 } },
          gate: { scaleToZero: { allServices: true, idleAfterMs: 300, checkIntervalMs: 20 } },
        })
        const response = await fetch(`${app.url}${STREAM_PATH}`)
        expect(response.status).toBe(200)
        const reader = (response.body as ReadableStream<Uint8Array>).getReader()
        const decoder = new TextDecoder()
        let text = ""
        // The body takes STREAM_EVENTS × STREAM_EVERY_MS, far past the 300 ms idle time.
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          text += decoder.decode(chunk.value, { stream: true })
          expect((await app.stats()).setReplicas).toBe(0)
        }
        expect(text.match(/^data: \d+$/gm)).toHaveLength(STREAM_EVENTS)
        // A runtime that drops the idle check's timer with its request never scales down (in-flight).
        if (!runs("in-flight")) return
        await until("the idle scale-down", async () => (await app.stats()).setReplicas === 1)
        await new Promise((resolve) => setTimeout(resolve, 3 * STREAM_EVERY_MS + 300))
        expect((await app.stats()).setReplicas).toBe(1)
      },
    )

    contractCase(
      "external-scale-down",
      "holds and wakes a service scaled to zero behind its back once maxStaleMs has passed (polling)",
      async () => {
        const { app, http } = await start({
          services: { echo: { startupDelayMs: 200 } },
          watch: false,
          gate: { cacheExpiry: 100, maxStaleMs: 200 },
        })
        await http.get(`${SERVICE}/first`).expect(200)
        // Within cacheExpiry + maxStaleMs a cached "ready" is still trusted.
        await http.get(`${SERVICE}/warm`).expect(200)
        await app.scaleExternally!("echo", 0)
        await new Promise((resolve) => setTimeout(resolve, 400))
        const afterScaleDown = await http.get(`${SERVICE}/again`).expect(200)
        expect(afterScaleDown.body).toMatchObject({ path: `${SERVICE}/again` })
        expect(afterScaleDown.headers["server-timing"]).toMatch(/^cold-start;dur=\d+$/)
        // The gate's first scale-up, the one behind its back, and the gate's second.
        expect((await app.stats()).setReplicas).toBe(3)
      },
    )

    contractCase(
      "external-scale-down",
      "knows at once of a scale-down behind its back when the backend pushes, reading nothing while warm",
      async () => {
        const { app, http } = await start({
          services: { echo: { startupDelayMs: 200 } },
          gate: { cacheExpiry: 50 },
        })
        await http.get(`${SERVICE}/first`).expect(200)
        // Warm requests over many cache periods: at most the one read that closes the gap
        // between the first read and the subscription, then nothing.
        const reads = (await app.stats()).getReplicas
        for (let i = 0; i < 6; i++) {
          await new Promise((resolve) => setTimeout(resolve, 60))
          const warm = await http.get(`${SERVICE}/warm`).expect(200)
          expect(warm.headers["server-timing"]).toBeUndefined()
        }
        expect((await app.stats()).getReplicas).toBeLessThanOrEqual(reads + 1)
        await app.scaleExternally!("echo", 0)
        const afterScaleDown = await http.get(`${SERVICE}/again`).expect(200)
        expect(afterScaleDown.headers["server-timing"]).toMatch(/^cold-start;dur=\d+$/)
        expect((await app.stats()).setReplicas).toBe(3)
      },
    )

    contractCase(
      "hung-backend",
      "recovers on the next request after a backend call that never answered, leaving no wait behind",
      async () => {
        const { app, http } = await start({
          services: { echo: { replicas: 1 } },
          hangFirstRead: true,
          gate: { timeout: 300 },
        })
        await http.get(`${SERVICE}/hung`).expect(504)
        expect(await app.stats()).toMatchObject({ totalWaiting: 0, getReplicas: 1 })
        const recovered = await http.get(`${SERVICE}/next`).expect(200)
        expect(recovered.body).toMatchObject({ path: `${SERVICE}/next` })
        expect(await app.stats()).toMatchObject({ totalWaiting: 0, getReplicas: 2 })
      },
    )

    contractCase(
      "browser-wake",
      "runs a wake a browser started to its end: ready is emitted, and the next request carries its Server-Timing",
      async () => {
        const { app, http } = await start({
          services: { echo: { startupDelayMs: 500 } },
          gate: { waitingPage: { afterMs: 100, refreshSeconds: 1 } },
        })
        const page = await http.get(`${SERVICE}/page`).set("accept", "text/html")
        expect(page.status).toBe(503)
        expect(page.headers["content-type"]).toMatch(/^text\/html/)
        // Nobody waits any more, yet the wake goes on to its end.
        await until("the ready event", async () => (await app.stats()).readyDurations.length === 1)
        const [wakeMs = 0] = (await app.stats()).readyDurations
        expect(wakeMs).toBeGreaterThanOrEqual(450)
        const reload = await http.get(`${SERVICE}/page`).set("accept", "text/html").expect(200)
        const timing = /^cold-start;dur=(\d+)$/.exec(String(reload.headers["server-timing"]))
        expect(timing, String(reload.headers["server-timing"])).not.toBeNull()
        expect(Math.abs(Number(timing?.[1]) - wakeMs)).toBeLessThanOrEqual(5)
        const after = await http.get(`${SERVICE}/page`).set("accept", "text/html").expect(200)
        expect(after.headers["server-timing"]).toBeUndefined()
        expect((await app.stats()).setReplicas).toBe(1)
      },
    )

    contractCase(
      "problem-json",
      "answers refusals as problem+json to JSON clients, plain text to others, an HTML page to browsers",
      async () => {
        const { http } = await start({
          services: { echo: { startupDelayMs: 10_000 } },
          gate: { timeout: 200, retryAfter: 2 },
        })
        const missing = await http
          .get("/function/missing/x")
          .set("accept", "application/json")
          .expect(404)
        expect(missing.headers["content-type"]).toBe("application/problem+json")
        expect(JSON.parse(missing.text)).toEqual({
          type: "about:blank",
          title: "Not Found",
          status: 404,
          detail: "error finding function missing.openfaas-fn: not found",
          code: "ERR_SERVICE_NOT_FOUND",
          service: "missing",
          namespace: "openfaas-fn",
        })
        const late = await http.get(`${SERVICE}/`).set("accept", "application/json").expect(504)
        expect(late.headers["retry-after"]).toBe("2")
        expect(JSON.parse(late.text)).toMatchObject({
          status: 504,
          title: "Gateway Timeout",
          code: "ERR_SCALE_TIMEOUT",
        })
        const text = await http.get("/function/missing/x").set("accept", "*/*").expect(404)
        expect(text.headers["content-type"]).toMatch(/^text\/plain/)
        expect(text.text).toBe("error finding function missing.openfaas-fn: not found")
        const page = await http.get("/function/missing/x").set("accept", "text/html").expect(404)
        expect(page.headers["content-type"]).toMatch(/^text\/html/)
        expect(page.text).toContain("<h1>404 Not Found</h1>")
        const invalid = await http
          .get("/function/bad%20name")
          .set("accept", "application/problem+json")
          .expect(400)
        expect(JSON.parse(invalid.text)).toMatchObject({ code: "ERR_INVALID_SERVICE_NAME" })
      },
    )

    contractCase(
      "group",
      "wakes a three-level group for one request in dependency order, independent branches together",
      async () => {
        const delay = 250
        const { app, http } = await start({
          services: {
            // web's needs come from its label, api's from the option.
            web: { startupDelayMs: delay, labels: { "scale-from-zero.depends-on": "api" } },
            api: { startupDelayMs: delay },
            db: { startupDelayMs: delay },
            cache: { startupDelayMs: delay },
          },
          gate: { dependencies: { api: ["db", "cache"] } },
        })
        const response = await http.get("/function/web/x").expect(200)
        const timing = /^cold-start;dur=(\d+)$/.exec(String(response.headers["server-timing"]))
        // Three levels one after the other: the held request waited for the whole group.
        expect(Number(timing?.[1])).toBeGreaterThanOrEqual(3 * delay - 30)
        const { log } = await app.stats()
        const at = (what: string, service: string) =>
          log.find((entry) => entry.what === what && entry.service === service)?.at ?? Number.NaN
        for (const service of ["web", "api", "db", "cache"]) {
          expect(
            log.filter((e) => e.what === "set-replicas" && e.service === service),
          ).toHaveLength(1)
        }
        // db and cache are independent: scaled up together, before api; api once both are ready.
        expect(Math.abs(at("set-replicas", "db") - at("set-replicas", "cache"))).toBeLessThan(
          delay / 2,
        )
        expect(at("set-replicas", "api")).toBeGreaterThanOrEqual(at("ready", "db"))
        expect(at("set-replicas", "api")).toBeGreaterThanOrEqual(at("ready", "cache"))
        expect(at("set-replicas", "web")).toBeGreaterThanOrEqual(at("ready", "api"))
        expect(at("ready", "web")).toBeGreaterThan(at("set-replicas", "web"))
      },
    )

    contractCase(
      "group",
      "with parallel: true, scales a service up beside its dependencies, and still holds for all",
      async () => {
        const { app, http } = await start({
          services: { api: { startupDelayMs: 100 }, db: { startupDelayMs: 400 } },
          gate: { dependencies: { api: { services: ["db"], parallel: true } } },
        })
        const response = await http.get("/function/api/x").expect(200)
        const timing = /^cold-start;dur=(\d+)$/.exec(String(response.headers["server-timing"]))
        expect(Number(timing?.[1])).toBeGreaterThanOrEqual(370)
        const { log } = await app.stats()
        const sets = log.filter((entry) => entry.what === "set-replicas")
        expect(sets.map((entry) => entry.service).sort()).toEqual(["api", "db"])
        expect(Math.abs((sets[0]?.at ?? 0) - (sets[1]?.at ?? 0))).toBeLessThan(100)
      },
    )

    contractCase(
      "group",
      "refuses a dependency cycle found in the labels, naming it, and scales nothing up",
      async () => {
        const { app, http } = await start({
          services: {
            a: { labels: { "scale-from-zero.depends-on": "b" } },
            b: { labels: { "scale-from-zero.depends-on": "a" } },
          },
        })
        const response = await http
          .get("/function/a/")
          .set("accept", "application/json")
          .expect(502)
        const problem = JSON.parse(response.text)
        expect(problem.code).toBe("ERR_DEPENDENCY")
        expect(problem.detail).toContain(
          "dependency cycle: b.openfaas-fn → a.openfaas-fn → b.openfaas-fn",
        )
        expect((await app.stats()).setReplicas).toBe(0)
      },
    )

    contractCase(
      "group-idle",
      "keeps a dependency up while its dependent is, then scales it down once, after its own idle time",
      async () => {
        const { app, http } = await start({
          services: { api: { startupDelayMs: 50 }, db: { startupDelayMs: 50 } },
          gate: {
            dependencies: { api: ["db"] },
            scaleToZero: { allServices: true, idleAfterMs: 300, checkIntervalMs: 20 },
          },
        })
        await http.get("/function/api/x").expect(200)
        const scaledDown = (log: ContractStats["log"], service: string) =>
          log.filter((e) => e.what === "set-replicas" && e.service === service && e.replicas === 0)
        await until(
          "both scaled down",
          async () => scaledDown((await app.stats()).log, "db").length === 1,
          3000,
        )
        await new Promise((resolve) => setTimeout(resolve, 400))
        const { log } = await app.stats()
        const [api] = scaledDown(log, "api")
        const [db, again] = scaledDown(log, "db")
        expect(again).toBeUndefined()
        // db was woken before api and idle as long, yet outlived it by its own idle time.
        expect(db!.at - api!.at).toBeGreaterThanOrEqual(250)
      },
    )

    contractCase(
      "sleep-drain",
      "gate.sleep lets a request in flight finish, scales down once, and holds a new request for a fresh wake",
      async () => {
        const { app, http } = await start({
          services: { echo: { replicas: 1, startupDelayMs: 100 } },
          gate: { scaleToZero: { allServices: true, idleAfterMs: 60_000 } },
        })
        await http.get(`${SERVICE}/warm`).expect(200)
        const slow = slowRequest(app.url, `${SERVICE}/slow`)
        await new Promise((resolve) => setTimeout(resolve, 100))
        let slept: boolean | undefined
        const sleeping = app.sleep!("echo", 5000).then((result) => {
          slept = result
        })
        await new Promise((resolve) => setTimeout(resolve, 100))
        // Draining: nothing scaled down yet, and a new request is held, not passed.
        const during = http.get(`${SERVICE}/during`).then((x) => x)
        await until("the new request held", async () => (await app.stats()).totalWaiting === 1)
        expect(slept).toBeUndefined()
        expect((await app.stats()).setReplicas).toBe(0)
        slow.finish()
        expect(await slow.status).toBe(200)
        await sleeping
        expect(slept).toBe(true)
        const held = await during
        expect(held.status).toBe(200)
        expect(held.headers["server-timing"]).toMatch(/^cold-start;dur=\d+$/)
        const sets = (await app.stats()).log.filter((e) => e.what === "set-replicas")
        expect(sets.map((e) => e.replicas)).toEqual([0, 1])
      },
    )

    contractCase(
      "route-policies",
      "wakes one service once for two routes with their own policies: held JSON, a browser page, a short timeout",
      async () => {
        const { app, http } = await start({
          services: { echo: { startupDelayMs: 600 } },
          routes: [
            { prefix: "/api/", service: "echo", policy: { waitingPage: false } },
            { prefix: "/app/", service: "echo", policy: { waitingPage: { afterMs: 100 } } },
            { prefix: "/quick/", service: "echo", policy: { timeout: 150, waitingPage: false } },
          ],
        })
        const api = http
          .get("/api/users")
          .set("accept", "application/json")
          .then((x) => x)
        const browser = http
          .get("/app/home")
          .set("accept", "text/html")
          .then((x) => x)
        const quick = await http.get("/quick/x").set("accept", "application/json").expect(504)
        expect(JSON.parse(quick.text)).toMatchObject({ code: "ERR_SCALE_TIMEOUT" })
        const page = await browser
        expect(page.status).toBe(503)
        expect(page.headers["content-type"]).toMatch(/^text\/html/)
        const held = await api
        expect(held.status).toBe(200)
        expect(held.body).toMatchObject({ path: "/api/users" })
        expect(held.headers["server-timing"]).toMatch(/^cold-start;dur=\d+$/)
        // The shared cache: warm for every route now.
        const warm = await http.get("/app/home").set("accept", "text/html").expect(200)
        expect(warm.body).toMatchObject({ path: "/app/home" })
        expect((await app.stats()).setReplicas).toBe(1)
      },
    )

    contractCase(
      "prewarm",
      "wakes the hinted services in the background without holding the hinting request",
      async () => {
        const { app, http } = await start({
          services: { echo: { startupDelayMs: 500 } },
          gate: { prewarm: [{ path: "/login", services: ["echo"] }] },
        })
        const started = Date.now()
        const login = await http.get("/login").expect(200)
        expect(login.body).toMatchObject({ path: "/login" })
        expect(Date.now() - started).toBeLessThan(400)
        expect((await app.stats()).setReplicas).toBe(1)
        await until("echo ready", async () => (await app.stats()).readyDurations.length === 1)
        const warm = await http.get(`${SERVICE}/x`).expect(200)
        expect(warm.headers["server-timing"]).toBeUndefined()
        // A second hint while it is ready starts nothing.
        await http.get("/login").expect(200)
        expect((await app.stats()).setReplicas).toBe(1)
      },
    )

    contractCase(
      "shutdown",
      "close() answers held requests 503 and leaves the backend to its owner",
      async () => {
        const { app, http } = await start({ services: { echo: { startupDelayMs: 800 } } })
        const held = http.get(`${SERVICE}/x`).then((response) => response)
        await until("the request held", async () => (await app.stats()).totalWaiting === 1)
        // The scale-up has been asked for: close() must not undo it.
        expect((await app.stats()).setReplicas).toBe(1)

        app.closeMiddleware!()
        const response = await held
        expect(response.status).toBe(503)
        expect(response.headers["retry-after"]).toBe("1")
        expect(response.text).toBe("the gateway is shutting down")
        // The backend is still open (closing it is the caller's: it may be shared): the
        // service it was starting turns ready, and nothing scaled it back down.
        await until("echo ready at the backend", async () => {
          return (await app.stats()).availableReplicas.echo === 1
        })
        expect((await app.stats()).setReplicas).toBe(1)
      },
    )

    const horizontal = runs("horizontal-scaling") ? describe : () => {}
    horizontal("horizontalScaling", () => {
      const path = `${SCALE_PATH_PREFIX}echo`

      it("answers 405 to a method other than POST", async () => {
        const { http } = await start({ services: {} })
        await http.get(path).expect(405)
        await http.put(path).send({ serviceName: "echo", replicas: 1 }).expect(405)
      })

      it("answers 400 to a body that is not a scale request", async () => {
        const { http } = await start({ services: {} })
        await http.post(path).set("content-type", "application/json").send("{not json").expect(400)
        await http.post(path).send({ replicas: 2 }).expect(400)
        await http.post(path).send({ serviceName: "echo", replicas: "2" }).expect(400)
        await http.post(path).send([1, 2]).expect(400)
      })

      it("answers 413 to a body larger than a scale request can be", async () => {
        const { http } = await start({ services: {} })
        const padding = "x".repeat(70 * 1024)
        await http.post(path).send({ serviceName: "echo", replicas: 1, padding }).expect(413)
      })

      it("lets a client leave halfway through its body, with no error and no answer", async () => {
        const { app, http } = await start({ services: {} })
        const errors = vi.spyOn(console, "error")
        try {
          const leaving = httpRequest(`${app.url}${path}`, {
            method: "POST",
            agent: false,
            headers: { "content-type": "application/json", "content-length": "100" },
          })
          const outcome = new Promise<string>((resolve) => {
            leaving.on("response", (response) => resolve(`answered ${response.statusCode}`))
            leaving.on("error", () => resolve("closed"))
          })
          leaving.write('{"serviceName":')
          await new Promise((resolve) => setTimeout(resolve, 100))
          leaving.destroy()
          expect(await outcome).toBe("closed")
          await new Promise((resolve) => setTimeout(resolve, 100))
          await http.post(path).send({ serviceName: "echo", replicas: 1 }).expect(200)
          expect(errors).not.toHaveBeenCalled()
        } finally {
          errors.mockRestore()
        }
      })

      it("clamps replicas and hands the normalised body on, parsed and as raw bytes", async () => {
        const { http } = await start({ services: {} })
        const high = await http
          .post(path)
          .send({ serviceName: "echo", replicas: 99, namespace: "", extra: true })
          .expect(200)
        const clamped = { serviceName: "echo", replicas: 5 }
        expect(high.body).toEqual({
          parsed: clamped,
          raw: JSON.stringify(clamped),
          contentLength: String(JSON.stringify(clamped).length),
        })
        const low = await http
          .post(path)
          .send({ serviceName: "echo", replicas: 0, namespace: "fns" })
          .expect(200)
        const raised = { serviceName: "echo", replicas: 1, namespace: "fns" }
        expect(low.body).toEqual({
          parsed: raised,
          raw: JSON.stringify(raised),
          contentLength: String(JSON.stringify(raised).length),
        })
      })
    })
  })
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

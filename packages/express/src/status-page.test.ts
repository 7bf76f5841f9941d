// The status dashboard in a real headless Chromium (Debian's chromium, driven by playwright-core).
import { existsSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"
import express from "express"
import { type Browser, chromium } from "playwright-core"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type ScaleFromZeroMiddleware, scaleFromZero, statusHandler } from "./index.js"

const CHROMIUM = "/usr/bin/chromium"
const missing = existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM} (apt-get install chromium)`
if (missing !== undefined && process.env.CI === "true") {
  throw new Error(`CI needs Debian's chromium: ${missing}; .ci/setup-chromium.sh installs it`)
}
if (missing !== undefined) console.warn(`skipping the dashboard tests: ${missing}`)

const SCREENSHOT = fileURLToPath(new URL("../../core/docs/status-page.png", import.meta.url))

describe.skipIf(missing !== undefined)("status dashboard in headless Chromium", () => {
  let browser: Browser
  let server: Server | undefined
  let middleware: ScaleFromZeroMiddleware | undefined
  let serviceQuery: MemoryServiceQuery | undefined

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    })
  })
  afterAll(() => browser?.close())
  afterEach(async () => {
    middleware?.gate.close()
    serviceQuery?.close()
    server?.closeAllConnections()
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  })

  /** A gateway with `echo` and `batch` known to it and scaled to zero; /_status read-only, /_admin allowed. */
  async function gateway() {
    serviceQuery = createMemoryServiceQuery({
      services: { echo: { replicas: 1, startupDelayMs: 400 }, batch: { replicas: 1 } },
    })
    middleware = scaleFromZero({ serviceQuery, functionPollInterval: 20 })
    const app = express()
    app.use("/_status", statusHandler(middleware.gate))
    app.use(
      "/_admin",
      statusHandler(middleware.gate, {
        authorize: (request) => request.headers["x-admin"] === "yes",
      }),
    )
    app.use(middleware)
    app.use((_request, response) => {
      response.json({ ok: true })
    })
    server = createServer(app)
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    for (const name of ["echo", "batch"]) {
      expect((await fetch(`${url}/function/${name}/`)).status).toBe(200)
      expect(await middleware.gate.sleep(name, "openfaas-fn")).toBe(true)
    }
    return url
  }

  const stateOf = (page: import("playwright-core").Page, service: string) =>
    page.locator(`tr[data-service="${service}.openfaas-fn"] .state`)

  it("shows a cold service, then 'ready' after a wake started elsewhere, without a reload", async () => {
    const url = await gateway()
    const page = await browser.newPage()
    const errors: string[] = []
    page.on("pageerror", (error) => errors.push(error.message))
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text())
    })
    await page.goto(`${url}/_status`)
    await page.waitForFunction(() => document.querySelector("tr[data-service]") !== null)
    expect(await stateOf(page, "echo").textContent()).toBe("cold")
    await page.evaluate(() => {
      ;(window as unknown as { stayed: boolean }).stayed = true
    })
    // A request from another client wakes the service (400 ms to start).
    const woken = fetch(`${url}/function/echo/hello`)
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-service="echo.openfaas-fn"] .state')?.textContent ===
        "ready",
      undefined,
      { timeout: 10_000 },
    )
    expect((await woken).status).toBe(200)
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true)
    const coldStart = await page
      .locator('tr[data-service="echo.openfaas-fn"] td')
      .nth(7)
      .textContent()
    expect(coldStart).toMatch(/ms|s$/)
    // No external resource, nothing refused by the page's own CSP.
    expect(errors).toEqual([])
    if (process.env.UPDATE_SCREENSHOT === "1") {
      await page.setViewportSize({ width: 1200, height: 260 })
      await page.screenshot({ path: SCREENSHOT })
    }
  })

  it("keeps wake and sleep off unless authorize allows them", async () => {
    const url = await gateway()
    const page = await browser.newPage()
    await page.goto(`${url}/_status`)
    await page.waitForFunction(() => document.querySelector("tr[data-service]") !== null)
    expect(
      await page.locator('tr[data-service="batch.openfaas-fn"] button').first().isDisabled(),
    ).toBe(true)
    // Even posted by hand, from the page's own origin: refused.
    const status = await page.evaluate(async () => {
      const response = await fetch("?action=wake&service=batch&namespace=openfaas-fn", {
        method: "POST",
        headers: { accept: "application/json" },
      })
      return response.status
    })
    expect(status).toBe(403)
    expect(middleware!.gate.status().find((s) => s.name === "batch")?.state).toBe("cold")
    expect(serviceQuery!.calls.setReplicas).toBe(2) // the two sleeps, no wake
  })

  it("wakes a service with the button when authorize allows it", async () => {
    const url = await gateway()
    const context = await browser.newContext({ extraHTTPHeaders: { "x-admin": "yes" } })
    const page = await context.newPage()
    await page.goto(`${url}/_admin`)
    await page.waitForFunction(() => document.querySelector("tr[data-service]") !== null)
    expect(await stateOf(page, "batch").textContent()).toBe("cold")
    const wake = page.locator('tr[data-service="batch.openfaas-fn"] button[data-action="wake"]')
    expect(await wake.isDisabled()).toBe(false)
    await wake.click()
    await page.waitForFunction(
      () =>
        document.querySelector('tr[data-service="batch.openfaas-fn"] .state')?.textContent ===
        "ready",
      undefined,
      { timeout: 10_000 },
    )
    await context.close()
  })

  it("works without JavaScript: the form posts, and the page comes back", async () => {
    const url = await gateway()
    const context = await browser.newContext({
      javaScriptEnabled: false,
      extraHTTPHeaders: { "x-admin": "yes" },
    })
    const page = await context.newPage()
    await page.goto(`${url}/_admin`)
    expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(1)
    expect(await stateOf(page, "echo").textContent()).toBe("cold")
    await page.locator('tr:has-text("echo") button:has-text("wake")').click()
    await page.waitForURL(`${url}/_admin`)
    expect(middleware!.gate.status().find((s) => s.name === "echo")?.state).toMatch(/waking|ready/)
    await context.close()
  })
})

describe("status handler over HTTP", () => {
  let server: Server | undefined
  afterEach(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  })

  it("answers JSON, refuses a cross-origin POST even when authorized, and checks its options", async () => {
    const query = createMemoryServiceQuery({ services: { echo: { replicas: 1 } } })
    const gate = scaleFromZero({ serviceQuery: query })
    const app = express()
    app.use("/_status", statusHandler(gate.gate, { authorize: () => true }))
    app.use(gate)
    app.use((_request, response) => {
      response.end("ok")
    })
    server = createServer(app)
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    await fetch(`${url}/function/echo/`)
    const body = await (
      await fetch(`${url}/_status`, { headers: { accept: "application/json" } })
    ).json()
    expect(body).toMatchObject({
      actions: true,
      services: [
        {
          name: "echo",
          namespace: "openfaas-fn",
          state: "ready",
          replicas: 1,
          availableReplicas: 1,
          held: 0,
          inFlight: null,
          idleScaleDownInMs: null,
        },
      ],
    })
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/_status?action=sleep&service=echo&namespace=openfaas-fn`, {
        method: "POST",
        headers: { accept: "application/json", ...headers },
      })
    expect((await post({ origin: "https://evil.example" })).status).toBe(403)
    expect((await post({ "sec-fetch-site": "cross-site" })).status).toBe(403)
    expect(gate.gate.status()[0]?.state).toBe("ready")
    expect((await post({ origin: url })).status).toBe(202)
    expect(gate.gate.status()[0]?.state).toBe("cold")
    expect(
      (
        await fetch(`${url}/_status?action=wake&service=ghost&namespace=openfaas-fn`, {
          method: "POST",
        })
      ).status,
    ).toBe(404)
    expect((await fetch(`${url}/_status`, { method: "PUT" })).status).toBe(405)
    expect(() => statusHandler(gate.gate, { authorize: "yes" as never })).toThrow(
      'option authorize must be a function (request) => boolean, got "yes"',
    )
    gate.gate.close()
    query.close()
  })
})

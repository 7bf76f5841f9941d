// The waiting page in a real browser (Debian's headless Chromium, driven by playwright-core): it
// turns into the service's page on its own once the service is ready, with JavaScript (its
// script's held HEAD request is released) and without (its reload is held, then released).
import { existsSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { DEFAULT_NAMESPACE } from "@scale-from-zero/core"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"
import express from "express"
import { type Browser, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ScaleFromZeroMiddleware, scaleFromZero } from "./index.js"

const CHROMIUM = "/usr/bin/chromium"
// As in ENVIRONMENT.md: headless as root on a machine without a GPU or a sandbox.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
]
const STARTUP_MS = 2500
const REAL_PAGE = "<!doctype html><html lang=en><title>web</title><h1>The real page</h1></html>"
// Set to write the README's screenshots: SFZ_SCREENSHOTS=1 npx vitest run --project express waiting-page
const SCREENSHOTS = process.env.SFZ_SCREENSHOTS === "1"

const missing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} not found (bash .ci/setup-chromium.sh)`
if (missing && process.env.CI === "true") throw new Error(`CI needs Chromium: ${missing}`)
if (missing) console.warn(`skipping the browser tests: ${missing}`)

let browser: Browser
let server: Server
let base: string
let serviceQuery: MemoryServiceQuery
let scaling: ScaleFromZeroMiddleware

/** When the backend itself reports `web` ready (its own watch), from now on. */
function nextReady(): Promise<number> {
  const controller = new AbortController()
  return new Promise((resolve) => {
    serviceQuery.watch?.(
      "web",
      DEFAULT_NAMESPACE,
      (status) => {
        if (status.availableReplicas === 0) return
        controller.abort()
        resolve(Date.now())
      },
      { signal: controller.signal },
    )
  })
}

beforeAll(async () => {
  if (missing) return
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  serviceQuery = createMemoryServiceQuery({ services: { web: { startupDelayMs: STARTUP_MS } } })
  scaling = scaleFromZero({
    serviceQuery,
    waitingPage: { afterMs: 300 },
  })
  const app = express()
  app.use(scaling)
  app.get("/function/web", (_req, res) => {
    res.type("html").send(REAL_PAGE)
  })
  server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  // One cold start seen before, so the page has an estimate to show.
  expect((await fetch(`${base}/function/web`)).status).toBe(200)
})

afterAll(async () => {
  if (missing) return
  scaling.close()
  await serviceQuery.close()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await browser.close()
})

/** The service back to zero, as idle scale-down would leave it. */
async function scaleToZero() {
  // A wake a previous test left going ends first: each test starts from a service at rest.
  await scaling.gate.scaler.scale("web", DEFAULT_NAMESPACE)
  await serviceQuery.setReplicas("web", DEFAULT_NAMESPACE, 0)
  scaling.gate.scaler.cache.delete("web", DEFAULT_NAMESPACE)
}

describe.skipIf(missing)("the waiting page in headless Chromium", () => {
  it.each([
    ["with JavaScript", true],
    ["without JavaScript (by its reload)", false],
  ])(
    "turns into the real page on its own, %s, within a second of the service being ready",
    async (_label, javaScriptEnabled) => {
      await scaleToZero()
      const context = await browser.newContext({ javaScriptEnabled })
      const page = await context.newPage()
      try {
        await page.goto(`${base}/function/web`)
        expect(await page.locator("h1").textContent()).toContain("Starting web.openfaas-fn")
        const ready = nextReady()
        await page.waitForFunction(() => document.title === "web", undefined, {
          timeout: STARTUP_MS * 3,
          polling: 20,
        })
        const shownAt = Date.now()
        expect(shownAt - (await ready)).toBeLessThan(1000)
      } finally {
        await context.close()
      }
    },
  )

  it("names the service, estimates from its last start, updates live, and is accessible in light and dark", async () => {
    for (const colorScheme of ["light", "dark"] as const) {
      await scaleToZero()
      const context = await browser.newContext({
        colorScheme,
        viewport: { width: 640, height: 400 },
      })
      const page = await context.newPage()
      try {
        await page.goto(`${base}/function/web`)
        expect(await page.getAttribute("html", "lang")).toBe("en")
        expect(await page.locator("[role=status]").textContent()).toContain("starting")
        expect(await page.locator(".hint").first().textContent()).toMatch(/usually takes [23] s/)
        const first = Number(await page.locator("progress").getAttribute("value"))
        await page.waitForTimeout(1200)
        expect(await page.locator("[data-elapsed]").textContent()).toMatch(/^[1-9]\d* s$/)
        // The estimate moves without a reload: elapsed / typical, from the previous start.
        expect(
          await page.evaluate(
            () => (document.querySelector("progress") as HTMLProgressElement).value,
          ),
        ).toBeGreaterThan(first)
        const contrast = await page.evaluate(() => {
          const rgb = (color: string) => (color.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number)
          const luminance = (color: string) => {
            const [r = 0, g = 0, b = 0] = rgb(color).map((v) => {
              const c = v / 255
              return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
            })
            return 0.2126 * r + 0.7152 * g + 0.0722 * b
          }
          const background = getComputedStyle(document.body).backgroundColor
          return [...document.querySelectorAll("h1, p")].map((element) => {
            const [a, b] = [luminance(getComputedStyle(element).color), luminance(background)].sort(
              (x, y) => y - x,
            )
            return ((a as number) + 0.05) / ((b as number) + 0.05)
          })
        })
        for (const ratio of contrast) expect(ratio).toBeGreaterThanOrEqual(4.5) // WCAG AA
        if (SCREENSHOTS) {
          const file = fileURLToPath(
            new URL(`../../core/docs/waiting-page-${colorScheme}.png`, import.meta.url),
          )
          await page.screenshot({ path: file })
        }
      } finally {
        await context.close()
      }
    }
  })

  it("keeps still under prefers-reduced-motion", async () => {
    await scaleToZero()
    serviceQuery.addService("fresh", DEFAULT_NAMESPACE, { startupDelayMs: STARTUP_MS })
    for (const reducedMotion of ["no-preference", "reduce"] as const) {
      const context = await browser.newContext({ reducedMotion })
      const page = await context.newPage()
      try {
        // A service never started before: no estimate, an indeterminate bar.
        await page.goto(`${base}/function/fresh`)
        expect(await page.locator(".hint").first().textContent()).toContain("No estimate yet")
        const animation = await page.evaluate(
          () => getComputedStyle(document.querySelector("progress") as Element).animationName,
        )
        expect(animation).toBe(reducedMotion === "reduce" ? "none" : "pulse")
      } finally {
        await context.close()
      }
    }
  })
})

import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import { Hono } from "hono"
import { expect, it } from "vitest"
import { scaleFromZero, statusHandler } from "./index.js"

it("serves the status as JSON and a page, and wakes only what authorize allows", async () => {
  const serviceQuery = createMemoryServiceQuery({
    services: { echo: { replicas: 1, startupDelayMs: 100 } },
  })
  const middleware = scaleFromZero({ serviceQuery, functionPollInterval: 20 })
  const app = new Hono()
  app.all("/_status", statusHandler(middleware.gate))
  app.all(
    "/_admin",
    statusHandler(middleware.gate, { authorize: (c) => c.req.header("x-admin") === "yes" }),
  )
  app.use(middleware)
  app.all("*", (c) => c.text("ok"))
  const base = "http://gateway.test"
  await app.request(`${base}/function/echo/`)
  await middleware.gate.sleep("echo", "openfaas-fn")
  const json = await app.request(`${base}/_status`, { headers: { accept: "application/json" } })
  expect(await json.json()).toMatchObject({
    actions: false,
    services: [{ name: "echo", state: "cold", replicas: 0 }],
  })
  expect(await (await app.request(`${base}/_status`)).text()).toContain("<table>")
  const wake = (path: string, headers: Record<string, string>) =>
    app.request(`${base}${path}?action=wake&service=echo&namespace=openfaas-fn`, {
      method: "POST",
      headers: { accept: "application/json", ...headers },
    })
  expect((await wake("/_status", {})).status).toBe(403)
  expect(
    (await wake("/_admin", { "x-admin": "yes", origin: "http://elsewhere.test" })).status,
  ).toBe(403)
  // A form posted without JavaScript, from the page's origin: back to the page.
  const posted = await app.request(
    `${base}/_admin?action=wake&service=echo&namespace=openfaas-fn`,
    {
      method: "POST",
      headers: { "x-admin": "yes", "sec-fetch-site": "same-origin" },
    },
  )
  expect(posted.status).toBe(303)
  expect(posted.headers.get("location")).toBe("/_admin")
  await middleware.gate.scaler.wakeSettled("echo", "openfaas-fn") // the wake the form started
  expect(middleware.gate.status()[0]?.state).toBe("ready")
  middleware.gate.close()
  serviceQuery.close()
})

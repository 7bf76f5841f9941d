import { DEFAULT_NAMESPACE } from "@scale-from-zero/core"
import { createMemoryServiceQuery } from "@scale-from-zero/core/testing"
import { Hono } from "hono"
import { expect, it } from "vitest"
import { scaleFromZero } from "./index.js"

it("close() answers held requests 503 and leaves the backend to its owner", async () => {
  const serviceQuery = createMemoryServiceQuery({ services: { echo: { startupDelayMs: 60_000 } } })
  const middleware = scaleFromZero({ serviceQuery })
  const app = new Hono()
  app.use(middleware)
  app.all("*", (c) => c.text("passed"))
  const held = app.request("/function/echo/x")
  await expect.poll(() => middleware.gate.scaler.totalWaiting).toBe(1)
  // The scale-up has been asked for: close() must not undo it.
  await expect.poll(() => serviceQuery.status("echo", DEFAULT_NAMESPACE)?.replicas).toBe(1)

  middleware.close()
  const response = await held
  expect(response.status).toBe(503)
  expect(response.headers.get("retry-after")).toBe("1")
  expect(await response.text()).toBe("the gateway is shutting down")
  // The backend is still open: closing it is the caller's (it may be shared).
  await expect(serviceQuery.getReplicas("echo", DEFAULT_NAMESPACE)).resolves.toMatchObject({
    replicas: 1,
  })
  serviceQuery.close()
})

import { serveContractApp } from "@scale-from-zero/test-kit/adapter-node-server"
import { runTelemetryContract } from "@scale-from-zero/test-kit/adapter-telemetry"
import express from "express"
import { scaleFromZero } from "./index.js"

runTelemetryContract("Express", {
  start: (scenario, wrap) =>
    serveContractApp(
      scenario,
      ({ options }) => {
        const middleware = scaleFromZero(options)
        const app = express()
        app.use(middleware)
        app.use((_request, response) => {
          response.json({ ok: true })
        })
        return { listener: app, middleware }
      },
      wrap,
    ),
})

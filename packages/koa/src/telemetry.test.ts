import { serveContractApp } from "@scale-from-zero/test-kit/adapter-node-server"
import { runTelemetryContract } from "@scale-from-zero/test-kit/adapter-telemetry"
import Koa from "koa"
import { scaleFromZero } from "./index.js"

runTelemetryContract("Koa", {
  start: (scenario, wrap) =>
    serveContractApp(
      scenario,
      ({ options }) => {
        const middleware = scaleFromZero(options)
        const app = new Koa()
        app.use(middleware)
        app.use((context) => {
          context.body = { ok: true }
        })
        return { listener: app.callback(), middleware }
      },
      wrap,
    ),
})

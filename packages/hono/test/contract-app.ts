// The contract app in Hono, shared by the Node server test and the workerd Worker (Web APIs only).
import {
  type ContractScenario,
  type ContractStats,
  createContractBackend,
  echoAnswer,
  eventStream,
  SCALE_PATH_PREFIX,
  type ScaleEchoAnswer,
  STREAM_PATH,
} from "@scale-from-zero/test-kit/adapter-scenario"
import { Hono } from "hono"
import { type HorizontalScalingEnv, horizontalScaling, scaleFromZero } from "../src/index.js"

export interface ContractApp {
  app: Hono<HorizontalScalingEnv>
  stats(): ContractStats
  scaleExternally(service: string, replicas: number): Promise<void>
  /** `gate.sleep` of the main middleware's gate, for a service in the default namespace. */
  sleep(service: string, drainMs: number): Promise<boolean>
  /** The middleware's own `close()`. */
  closeMiddleware(): void
  close(): void
}

export function createContractApp(scenario: ContractScenario): ContractApp {
  const backend = createContractBackend(scenario)
  const middleware = scaleFromZero(backend.options)
  const app = new Hono<HorizontalScalingEnv>()
  app.use(middleware)
  for (const policy of backend.routes) app.use(scaleFromZero({ gate: middleware.gate, ...policy }))
  app.all(`${SCALE_PATH_PREFIX}*`, horizontalScaling(), async (c) => {
    const answer: ScaleEchoAnswer = {
      parsed: c.get("scaleRequest"),
      raw: await c.req.raw.text(),
      contentLength: c.req.raw.headers.get("content-length"),
    }
    return c.json(answer)
  })
  app.get(STREAM_PATH, () => {
    return new Response(eventStream(), { headers: { "content-type": "text/event-stream" } })
  })
  app.all("*", async (c) => {
    const { url, method } = c.req.raw
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2))
    const body = new Uint8Array(await c.req.raw.arrayBuffer())
    return c.json(await echoAnswer(method, path, body))
  })
  return {
    app,
    stats: () => backend.stats(middleware.gate),
    scaleExternally: backend.scaleExternally,
    sleep: (service, drainMs) => middleware.gate.sleep(service, undefined, { drainMs }),
    closeMiddleware: () => middleware.close(),
    close: () => backend.close(middleware.gate),
  }
}

import { runAdapterContract } from "@scale-from-zero/test-kit/adapter-contract"
import {
  echoNodeRequest,
  nodeEvents,
  serveContractApp,
} from "@scale-from-zero/test-kit/adapter-node-server"
import {
  type ContractBackend,
  SCALE_PATH_PREFIX,
  type ScaleEchoAnswer,
  STREAM_PATH,
} from "@scale-from-zero/test-kit/adapter-scenario"
import Koa3 from "koa"
import Koa2 from "koa2"
import {
  horizontalScaling,
  type KoaContext,
  type ScaleRequestFields,
  scaleFromZero,
} from "./index.js"

// The handlers after the middlewares: a proxy would forward what they echo.
const scaling = horizontalScaling()
const scaleRoute = (context: KoaContext & { path: string }, next: () => Promise<unknown>) => {
  if (!context.path.startsWith(SCALE_PATH_PREFIX)) return next()
  return scaling(context, async () => {
    const { body, rawBody } = context.request as ScaleRequestFields
    const answer: ScaleEchoAnswer = {
      parsed: body,
      raw: rawBody,
      contentLength: context.req.headers["content-length"] ?? null,
    }
    context.body = answer
  })
}
const echo = async (context: KoaContext) => {
  if (context.originalUrl === STREAM_PATH) {
    context.set({ "content-type": "text/event-stream" })
    context.body = nodeEvents()
    return
  }
  context.body = await echoNodeRequest(context.req, context.originalUrl)
}

/**
 * Koa reports, through its app "error" event, every request whose client left mid-body (Node's
 * parser fails at the early end of the socket), middlewares or not. Anything else is logged.
 */
const logErrorsButClientAborts = (error: Error & { code?: string }) => {
  if (error.code !== "HPE_INVALID_EOF_STATE") console.error(error)
}

// Built once per major version, so the middlewares are type-checked against both typings.
function koa3App({ options, routes }: ContractBackend) {
  const middleware = scaleFromZero(options)
  const app = new Koa3()
  app.on("error", logErrorsButClientAborts)
  app.use(middleware)
  for (const policy of routes) app.use(scaleFromZero({ gate: middleware.gate, ...policy }))
  app.use(scaleRoute)
  app.use(echo)
  return { listener: app.callback(), middleware }
}

function koa2App({ options, routes }: ContractBackend) {
  const middleware = scaleFromZero(options)
  const app = new Koa2()
  app.on("error", logErrorsButClientAborts)
  app.use(middleware)
  for (const policy of routes) app.use(scaleFromZero({ gate: middleware.gate, ...policy }))
  app.use(scaleRoute)
  app.use(echo)
  return { listener: app.callback(), middleware }
}

runAdapterContract("Koa 3", { start: (scenario) => serveContractApp(scenario, koa3App) })
runAdapterContract("Koa 2", { start: (scenario) => serveContractApp(scenario, koa2App) })

import type { ServerResponse } from "node:http"
import { runAdapterContract } from "@scale-from-zero/test-kit/adapter-contract"
import {
  echoNodeRequest,
  nodeEvents,
  sendJson,
  serveContractApp,
} from "@scale-from-zero/test-kit/adapter-node-server"
import {
  type ContractBackend,
  SCALE_PATH_PREFIX,
  type ScaleEchoAnswer,
  STREAM_PATH,
} from "@scale-from-zero/test-kit/adapter-scenario"
import express5 from "express"
import express4 from "express4"
import {
  type ExpressRequest,
  horizontalScaling,
  type NextFunction,
  type ScaleRequestMessage,
  scaleFromZero,
} from "./index.js"

// The handlers after the middlewares: a proxy would forward what they echo.
const scaleEcho = (request: ExpressRequest, response: ServerResponse) => {
  const { body, rawBody, headers } = request as ScaleRequestMessage
  const answer: ScaleEchoAnswer = {
    parsed: body,
    raw: rawBody,
    contentLength: headers["content-length"] ?? null,
  }
  sendJson(response, answer)
}
const echo = (request: ExpressRequest, response: ServerResponse, next: NextFunction) => {
  if (request.originalUrl === STREAM_PATH) {
    response.writeHead(200, { "content-type": "text/event-stream" })
    nodeEvents().pipe(response)
    return
  }
  echoNodeRequest(request, request.originalUrl ?? "").then(
    (answer) => sendJson(response, answer),
    next,
  )
}

// Built once per major version, so the middlewares are type-checked against both typings.
function express5App({ options, routes }: ContractBackend) {
  const middleware = scaleFromZero(options)
  const app = express5()
  app.use(middleware)
  for (const policy of routes) app.use(scaleFromZero({ gate: middleware.gate, ...policy }))
  app.use(SCALE_PATH_PREFIX, horizontalScaling(), scaleEcho)
  app.use(echo)
  return { listener: app, middleware }
}

function express4App({ options, routes }: ContractBackend) {
  const middleware = scaleFromZero(options)
  const app = express4()
  app.use(middleware)
  for (const policy of routes) app.use(scaleFromZero({ gate: middleware.gate, ...policy }))
  app.use(SCALE_PATH_PREFIX, horizontalScaling(), scaleEcho)
  app.use(echo)
  return { listener: app, middleware }
}

runAdapterContract("Express 5", { start: (scenario) => serveContractApp(scenario, express5App) })
runAdapterContract("Express 4", { start: (scenario) => serveContractApp(scenario, express4App) })

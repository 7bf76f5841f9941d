// An Express OpenFaaS gateway for the peer harness (beside the Go gateway and the Koa example):
// `express-openfaas.ts PROXY`, configured from the same environment as
// examples/koa-openfaas-gateway (PORT, functions_provider_url, function_namespace,
// upstream_timeout, basic_auth…). Built from the published pieces the way their READMEs show:
// @scale-from-zero/express's scaleFromZero, @scale-from-zero/openfaas's service query, then
// - http-proxy-middleware: the Express README's proxy, with `rewake` on a refused connection,
//   and a keep-alive agent (at most 128 sockets, as the other two proxies; the client's
//   `Connection` header replaced by keep-alive);
// - http-proxy-middleware-no-agent: the same as the README writes it, without an agent:
//   http-proxy then opens a connection per request and sends `Connection: close`;
// - undici: examples/express-gateway's `proxyTo` (undici's Agent, at most 128 connections).
// Like the Koa example, `/healthz` answers before the gate, and scaling events are logged.
import { Agent, type ServerResponse } from "node:http"
import { scaleFromZero } from "@scale-from-zero/express"
import { createOpenFaaSServiceQuery } from "@scale-from-zero/openfaas"
import express, { type RequestHandler } from "express"
import { createProxyMiddleware } from "http-proxy-middleware"
import { proxyTo, upstreamAgent } from "../../../examples/express-gateway/src/proxy.js"
import { readGatewayConfig } from "../../../examples/koa-openfaas-gateway/src/config.js"
import { logEvent } from "./log-event.js"

const PROXIES = ["http-proxy-middleware", "http-proxy-middleware-no-agent", "undici"]
const proxyName = process.argv[2] ?? "http-proxy-middleware"
if (!PROXIES.includes(proxyName)) {
  throw new Error(
    `the proxy must be one of ${PROXIES.join(", ")}, got ${JSON.stringify(proxyName)}`,
  )
}

const config = readGatewayConfig(process.env)
const serviceQuery = createOpenFaaSServiceQuery({
  url: config.providerUrl,
  ...(config.basicAuth && { basicAuth: config.basicAuth }),
})
const scaling = scaleFromZero({
  serviceQuery,
  defaultNamespace: config.functionNamespace,
  timeout: config.upstreamTimeoutMs,
  onEvent: logEvent,
})
const FUNCTION_PATHS = ["/function/", "/async-function/"]

/** A request whose body can be sent again: both proxies stream bodies, they do not keep them. */
const hasNoBody = (req: express.Request) => {
  const length = req.headers["content-length"]
  return req.headers["transfer-encoding"] === undefined && (!length || length === "0")
}

/** Sockets kept open to the provider at most, as the Koa example's pool and proxyTo's agent. */
const UPSTREAM_CONNECTIONS = 128

function viaHttpProxyMiddleware(keepAlive: boolean): RequestHandler {
  const proxy = createProxyMiddleware({
    target: config.providerUrl,
    // http-proxy forwards the client's hop-by-hop `Connection` header: a client's `close` would end
    // each pooled connection after one request, and a provider that answers it with `keep-alive`
    // (as the harness's stand-in does) gets the next queued request on a connection it is
    // closing, and answers 400. The header is replaced, not removed: http-proxy offers no hook
    // before a queued request's headers are written.
    ...(keepAlive && {
      agent: new Agent({ keepAlive: true, maxSockets: UPSTREAM_CONNECTIONS }),
      headers: { connection: "keep-alive" },
    }),
    xfwd: true,
    proxyTimeout: config.upstreamTimeoutMs,
    on: {
      error: async (error, req, res) => {
        if (!("writeHead" in res)) return res.destroy()
        const response = res as ServerResponse
        if (response.headersSent) return response.destroy()
        const request = req as express.Request
        // Only a request without a body can be sent again: the proxy streamed the first one.
        if (
          hasNoBody(request) &&
          (await scaling.rewake(request, response, () => void proxy(request, response, () => {})))
        )
          return
        response
          .writeHead(502, { "content-type": "text/plain" })
          .end(`bad gateway: ${error.message}`)
      },
    },
  })
  return proxy
}

function viaUndici(): RequestHandler {
  const upstream = new URL(config.providerUrl)
  if (upstream.pathname.replace(/\/+$/, "") !== "") {
    throw new Error(
      `proxyTo forwards to an origin: functions_provider_url must have no path, got ${config.providerUrl}`,
    )
  }
  const forward = proxyTo({
    agent: upstreamAgent(),
    target: () => upstream.origin,
    onError: (error, req, res) => {
      const request = req as express.Request
      if (hasNoBody(request)) {
        void scaling
          .rewake(request, res, () => forward(request, res, () => {}))
          .then((handled) => {
            if (!handled)
              res
                .writeHead(502, { "content-type": "text/plain" })
                .end(`bad gateway: ${error.message}`)
          })
        return
      }
      res.writeHead(502, { "content-type": "text/plain" }).end(`bad gateway: ${error.message}`)
    },
  })
  return (req, res, next) => {
    if (FUNCTION_PATHS.some((prefix) => req.path.startsWith(prefix))) forward(req, res, next)
    else next()
  }
}

const app = express()
app.disable("x-powered-by")
app.get("/healthz", (_req, res) => {
  res.type("text/plain").send("OK")
})
app.use(scaling)
app.use(
  proxyName === "undici"
    ? viaUndici()
    : viaHttpProxyMiddleware(proxyName === "http-proxy-middleware"),
)

const server = app.listen(config.port, () => {
  console.log(`express gateway (${proxyName}) on :${config.port} → ${config.providerUrl}`)
})
const shutdown = () => {
  scaling.close()
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  setTimeout(() => process.exit(0), 5_000).unref()
}
process.once("SIGTERM", shutdown)
process.once("SIGINT", shutdown)

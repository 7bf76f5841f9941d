import {
  DEFAULT_NAMESPACE,
  getNamespace,
  getServiceName,
  type ScaleFromZeroOptions,
  type ScaleToZeroOptions,
  type ServiceQuery,
} from "@scale-from-zero/core"
import { createDockerServiceQuery, type DockerServiceQueryOptions } from "@scale-from-zero/docker"
import { scaleFromZero } from "@scale-from-zero/hono"
import { Hono } from "hono"

/** The label telling the gateway where a service's containers listen: `http://127.0.0.1:8081`. */
export const UPSTREAM_LABEL = "scale-from-zero.upstream"

export interface DockerGatewayOptions extends Omit<ScaleFromZeroOptions, "serviceQuery"> {
  /** Where the engine listens (default: `/var/run/docker.sock`) and how containers are stopped. */
  docker?: DockerServiceQueryOptions
  /** Another backend in place of the engine's (the tests wrap the Docker one to count calls). */
  serviceQuery?: ServiceQuery
  /**
   * Idle scale-to-zero of services labelled `com.openfaas.scale.zero=true`, after their
   * `com.openfaas.scale.zero-duration` or `idleAfterMs`. Default `{ idleAfterMs: 5 minutes }`.
   */
  scaleToZero?: ScaleToZeroOptions
}

export interface DockerGateway {
  readonly app: Hono
  /** Ends every held request and idle timer, the engine's event stream and its connections. */
  close(): Promise<void>
}

// Headers that describe one connection, not the message: never forwarded.
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
]

/**
 * A Hono app that serves `/function/NAME[.NAMESPACE]/PATH` from the containers labelled
 * `scale-from-zero.service=NAME`: stopped ones are started on the first request (which is held
 * until they are ready), and stopped again once idle.
 */
export function createDockerGateway(options: DockerGatewayOptions = {}): DockerGateway {
  const {
    docker,
    serviceQuery: givenQuery,
    scaleToZero = { idleAfterMs: 5 * 60_000 },
    ...gateOptions
  } = options
  const dockerQuery = givenQuery === undefined ? createDockerServiceQuery(docker) : undefined
  const serviceQuery = givenQuery ?? dockerQuery!
  const defaultNamespace =
    gateOptions.defaultNamespace ?? serviceQuery.defaultNamespace ?? DEFAULT_NAMESPACE
  const gateway = scaleFromZero({ ...gateOptions, serviceQuery, scaleToZero })
  const { scaler } = gateway.gate

  const app = new Hono()
  app.get("/healthz", (c) => c.text("ok\n"))
  app.use("/function/*", gateway)
  app.all("/function/*", async (c) => {
    const fullName = getServiceName(c.req.path)
    const [name, namespace] = getNamespace(defaultNamespace, fullName)
    // The gate let the request through, so the service's status is in its cache.
    const upstream = scaler.peek(name, namespace)?.labels?.[UPSTREAM_LABEL]
    if (upstream === undefined || !/^https?:\/\//.test(upstream)) {
      return c.text(`service ${name}.${namespace} has no ${UPSTREAM_LABEL} label\n`, 502)
    }
    const prefix = `/function/${fullName}`
    const url = new URL(c.req.url)
    const target = new URL(`${url.pathname.slice(prefix.length) || "/"}${url.search}`, upstream)
    const headers = new Headers(c.req.raw.headers)
    for (const header of HOP_BY_HOP) headers.delete(header)
    const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD"
    try {
      const answer = await fetch(target, {
        method: c.req.method,
        headers,
        signal: c.req.raw.signal,
        redirect: "manual",
        ...(hasBody && { body: c.req.raw.body, duplex: "half" }),
      })
      const forwarded = new Headers(answer.headers)
      for (const header of HOP_BY_HOP) forwarded.delete(header)
      return new Response(answer.body, { status: answer.status, headers: forwarded })
    } catch (error) {
      return c.text(
        `service ${name}.${namespace} at ${upstream}: ${(error as Error).message}\n`,
        502,
      )
    }
  })

  return {
    app,
    async close() {
      gateway.gate.close()
      await dockerQuery?.close()
    },
  }
}

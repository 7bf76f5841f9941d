import { request } from "node:http"
import { connect } from "node:net"

/**
 * One readiness check against a replica: an HTTP GET of `httpPath` answered with a 2xx,
 * or, without a path, an accepted TCP connection. Resolves false on failure, on
 * `timeoutMs` and on abort; never rejects, and leaves no socket behind.
 */
export function probe(
  host: string,
  port: number,
  httpPath: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    let release = () => {}
    const finish = (ok: boolean) => {
      clearTimeout(timer)
      signal.removeEventListener("abort", onAbort)
      release()
      resolve(ok)
    }
    const onAbort = () => finish(false)
    const timer = setTimeout(onAbort, timeoutMs)
    signal.addEventListener("abort", onAbort, { once: true })

    if (httpPath === undefined) {
      const socket = connect({ host, port })
      release = () => socket.destroy()
      socket.once("connect", () => finish(true))
      socket.once("error", () => finish(false))
      return
    }
    // No agent: the probe's socket closes with its answer instead of idling in a pool.
    const req = request({
      host,
      port,
      path: httpPath,
      method: "GET",
      agent: false,
      headers: { connection: "close" },
    })
    release = () => req.destroy()
    req.once("response", (res) => {
      const status = res.statusCode ?? 0
      res.resume()
      finish(status >= 200 && status < 300)
    })
    req.once("error", () => finish(false))
    req.end()
  })
}

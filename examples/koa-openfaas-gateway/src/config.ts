import { readFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { join } from "node:path"
import { parseDuration } from "@scale-from-zero/core"
import type { OpenFaaSBasicAuth } from "@scale-from-zero/openfaas"

/** What the gateway needs, read from the environment the way the OpenFaaS gateway reads its own. */
export interface GatewayConfig {
  /** The faas-provider (or an OpenFaaS gateway): its `/system/` API and its `/function/` proxy. */
  providerUrl: string
  basicAuth: OpenFaaSBasicAuth | undefined
  /** Namespace of a function named without one (`/function/figlet`). */
  functionNamespace: string
  port: number
  /** How long a request may wait for its function to scale up and then answer, in ms. */
  upstreamTimeoutMs: number
  /** Processes serving the port: 1, or that many node:cluster workers acting as one gateway. */
  workers: number
}

export type Environment = Readonly<Record<string, string | undefined>>

const DEFAULT_SECRET_MOUNT_PATH = "/run/secrets/"
const DEFAULT_UPSTREAM_TIMEOUT_MS = 60_000

/**
 * | variable | default | meaning |
 * | `functions_provider_url`, else `OPENFAAS_URL` | `http://127.0.0.1:8080` | where functions live |
 * | `basic_auth` | `false` | `true`: send the credentials in `secret_mount_path` |
 * | `secret_mount_path` | `/run/secrets/` | holds `basic-auth-user` and `basic-auth-password` |
 * | `OPENFAAS_USER`, `OPENFAAS_PASSWORD` | `admin`, none | credentials when there are no secret files |
 * | `function_namespace` | `openfaas-fn` | namespace of `/function/NAME` |
 * | `upstream_timeout` | `60s` | seconds (`65`) or a duration (`1m5s`, `500ms`) |
 * | `PORT` | `8080` | where the gateway listens |
 * | `GATEWAY_WORKERS` | `1` | node:cluster workers sharing the port; `auto`: one per core |
 */
export function readGatewayConfig(
  env: Environment,
  readSecret: (path: string) => string = (path) => readFileSync(path, "utf8"),
): GatewayConfig {
  const providerUrl = env.functions_provider_url || env.OPENFAAS_URL || "http://127.0.0.1:8080"
  return {
    providerUrl,
    basicAuth: readBasicAuth(env, readSecret),
    functionNamespace: env.function_namespace || "openfaas-fn",
    port: readPort(env.PORT),
    upstreamTimeoutMs: readDuration("upstream_timeout", env.upstream_timeout),
    workers: readWorkers(env.GATEWAY_WORKERS),
  }
}

function readBasicAuth(
  env: Environment,
  readSecret: (path: string) => string,
): OpenFaaSBasicAuth | undefined {
  const fromEnv =
    env.OPENFAAS_PASSWORD !== undefined
      ? { user: env.OPENFAAS_USER || "admin", password: env.OPENFAAS_PASSWORD }
      : undefined
  if (env.basic_auth !== "true") return fromEnv
  const directory = env.secret_mount_path || DEFAULT_SECRET_MOUNT_PATH
  const read = (file: string) => {
    try {
      // Secrets mounted from Kubernetes or written by hand often end in a newline.
      return readSecret(join(directory, file)).trim()
    } catch (error) {
      if (fromEnv !== undefined) return undefined
      throw new Error(
        `basic_auth=true but ${join(directory, file)} cannot be read (${(error as Error).message}); set secret_mount_path or OPENFAAS_PASSWORD`,
      )
    }
  }
  const user = read("basic-auth-user")
  const password = read("basic-auth-password")
  return user !== undefined && password !== undefined ? { user, password } : fromEnv
}

function readPort(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 8080
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be a TCP port number, got ${JSON.stringify(raw)}`)
  }
  return port
}

const MAX_WORKERS = 1_024

/** A whole number of workers, or `auto`: one per core this process may run on. */
function readWorkers(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 1
  if (raw === "auto") return availableParallelism()
  const workers = Number(raw)
  if (!/^\d+$/.test(raw) || workers < 1 || workers > MAX_WORKERS) {
    throw new Error(
      `GATEWAY_WORKERS must be a whole number from 1 to ${MAX_WORKERS}, or auto, got ${JSON.stringify(raw)}`,
    )
  }
  return workers
}

/** The gateway's rule: whole seconds (`65`), or a Go duration (`1m5s`, `500ms`). */
function readDuration(name: string, raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_UPSTREAM_TIMEOUT_MS
  const ms = /^\d+$/.test(raw) ? Number(raw) * 1_000 : parseDuration(raw)
  if (ms === undefined || ms <= 0) {
    throw new Error(
      `${name} must be seconds or a duration such as 1m30s, got ${JSON.stringify(raw)}`,
    )
  }
  return ms
}

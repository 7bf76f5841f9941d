import { checkNamespace, invalidOption, numberOption } from "@scale-from-zero/core/provider"
import type { ProcessServiceQueryOptions } from "./options.js"
import type { RestartPolicy } from "./runtime.js"

export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000
export const DEFAULT_STOP_GRACE_PERIOD_MS = 5000
export const DEFAULT_RESTART_INITIAL_MS = 100
export const DEFAULT_RESTART_MAX_MS = 10_000
export const DEFAULT_RESTART_RESET_AFTER_MS = 10_000

type Stdio = "inherit" | "ignore"

/** What every service falls back to when its definition leaves a setting out. */
export interface ServiceDefaults {
  readonly startupTimeoutMs: number
  readonly stopGracePeriodMs: number
  readonly stdio: Stdio
}

export function stdioOption(option: string, value: unknown, fallback: Stdio): Stdio {
  if (value === undefined) return fallback
  if (value !== "inherit" && value !== "ignore") {
    throw invalidOption(option, '"inherit" or "ignore"', value)
  }
  return value
}

export function stringOption(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== "string" || value.length === 0) {
    throw invalidOption(option, "a non-empty string", value)
  }
  return value
}

export function functionOption<F extends (...args: never[]) => unknown>(
  option: string,
  value: F | undefined,
): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw invalidOption(option, "a function", value)
  }
  return value
}

/** The namespace of local services unless `namespace` says otherwise: no OpenFaaS here. */
export const PROCESS_NAMESPACE = "default"

/** The query's own options, checked, with every default filled in. */
export function resolveSettings(options: ProcessServiceQueryOptions) {
  if (typeof options !== "object" || options === null) {
    throw invalidOption("options", "an object", options)
  }
  const namespace = options.namespace ?? PROCESS_NAMESPACE
  const namespaceError = checkNamespace(namespace)
  if (namespaceError) throw namespaceError
  const backoff = options.restartBackoff ?? {}
  const restart: RestartPolicy = {
    initialMs: numberOption(
      "restartBackoff.initialMs",
      backoff.initialMs,
      DEFAULT_RESTART_INITIAL_MS,
      "positive",
    ),
    maxMs: numberOption("restartBackoff.maxMs", backoff.maxMs, DEFAULT_RESTART_MAX_MS, "positive"),
    resetAfterMs: numberOption(
      "restartBackoff.resetAfterMs",
      backoff.resetAfterMs,
      DEFAULT_RESTART_RESET_AFTER_MS,
      "positive",
    ),
  }
  const defaults: ServiceDefaults = {
    startupTimeoutMs: numberOption(
      "startupTimeoutMs",
      options.startupTimeoutMs,
      DEFAULT_STARTUP_TIMEOUT_MS,
      "positive",
    ),
    stopGracePeriodMs: numberOption(
      "stopGracePeriodMs",
      options.stopGracePeriodMs,
      DEFAULT_STOP_GRACE_PERIOD_MS,
      "positive",
    ),
    stdio: stdioOption("stdio", options.stdio, "inherit"),
  }
  return {
    namespace,
    host: stringOption("host", options.host, DEFAULT_HOST),
    restart,
    defaults,
    onEvent: functionOption("onEvent", options.onEvent),
    onWatchError: functionOption("onWatchError", options.onWatchError),
  }
}

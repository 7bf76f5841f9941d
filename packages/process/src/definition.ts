import { invalidOption, numberOption, readScaleLabels } from "@scale-from-zero/core/provider"
import type { PortRange, ProcessServiceDefinition } from "./options.js"
import type { Service } from "./runtime.js"
import { type ServiceDefaults, stdioOption, stringOption } from "./settings.js"

export const DEFAULT_PORT_ENV = "PORT"
export const DEFAULT_PROBE_INTERVAL_MS = 50
export const DEFAULT_READY_PROBE_INTERVAL_MS = 1000
export const DEFAULT_PROBE_TIMEOUT_MS = 1000
export const DEFAULT_PROBE_FAILURE_THRESHOLD = 3

/** A service definition, checked, with every default filled in. */
export interface ResolvedDefinition extends ServiceDefaults {
  readonly command: string
  readonly args: readonly string[]
  readonly env: Record<string, string | undefined>
  readonly cwd: string | undefined
  /** Inclusive port range, or undefined for an OS-assigned port. */
  readonly ports: PortRange | undefined
  readonly portEnv: string
  readonly httpPath: string | undefined
  readonly probeIntervalMs: number
  readonly readyProbeIntervalMs: number
  readonly probeTimeoutMs: number
  readonly failureThreshold: number
  readonly minReplicas: number
  readonly maxReplicas: number
  readonly scalingFactor: number
  readonly labels: Record<string, string> | undefined
  readonly annotations: Record<string, string> | undefined
  /** Replicas the ports allow at once. */
  readonly capacity: number
}

const isPort = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65_535

function portOption(option: string, port: ProcessServiceDefinition["port"]) {
  if (port === undefined) return undefined
  if (typeof port === "number" && isPort(port)) return { from: port, to: port }
  if (typeof port === "object" && isPort(port?.from) && isPort(port.to) && port.from <= port.to) {
    return { from: port.from, to: port.to }
  }
  throw invalidOption(option, "a port 1-65535 or a range { from, to } with from <= to", port)
}

function recordOption(option: string, value: unknown) {
  if (value === undefined) return undefined
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidOption(option, "an object of strings", value)
  }
  return { ...(value as Record<string, string>) }
}

/** Checks one service's definition; every message names the option as `services.NAME.…`. */
export function resolveDefinition(
  name: string,
  definition: ProcessServiceDefinition,
  defaults: ServiceDefaults,
): ResolvedDefinition {
  const at = `services.${name}`
  if (typeof definition !== "object" || definition === null) {
    throw invalidOption(at, "a service definition ({ command, … })", definition)
  }
  const { command } = definition
  if (typeof command !== "string" || command.length === 0) {
    throw invalidOption(`${at}.command`, "a non-empty string", command)
  }
  if (definition.args !== undefined && !Array.isArray(definition.args)) {
    throw invalidOption(`${at}.args`, "an array of strings", definition.args)
  }
  const ports = portOption(`${at}.port`, definition.port)
  const readiness = definition.readiness ?? {}
  const { httpPath } = readiness
  if (httpPath !== undefined && !(typeof httpPath === "string" && httpPath.startsWith("/"))) {
    throw invalidOption(`${at}.readiness.httpPath`, 'a path starting with "/"', httpPath)
  }
  const labels = recordOption(`${at}.labels`, definition.labels)
  let limits: ReturnType<typeof readScaleLabels>
  try {
    limits = readScaleLabels(labels)
  } catch (error) {
    // The rules are every provider's; the message says which service broke them.
    throw new RangeError(`${at}.labels: ${(error as Error).message}`, { cause: error })
  }
  return {
    command,
    args: [...(definition.args ?? [])],
    env: {
      ...(definition.inheritEnv === false ? {} : process.env),
      ...recordOption(`${at}.env`, definition.env),
    },
    cwd: definition.cwd,
    ports,
    portEnv: stringOption(`${at}.portEnv`, definition.portEnv, DEFAULT_PORT_ENV),
    httpPath,
    probeIntervalMs: numberOption(
      `${at}.readiness.intervalMs`,
      readiness.intervalMs,
      DEFAULT_PROBE_INTERVAL_MS,
      "positive",
    ),
    readyProbeIntervalMs: numberOption(
      `${at}.readiness.readyIntervalMs`,
      readiness.readyIntervalMs,
      DEFAULT_READY_PROBE_INTERVAL_MS,
      "positive",
    ),
    probeTimeoutMs: numberOption(
      `${at}.readiness.timeoutMs`,
      readiness.timeoutMs,
      DEFAULT_PROBE_TIMEOUT_MS,
      "positive",
    ),
    failureThreshold: numberOption(
      `${at}.readiness.failureThreshold`,
      readiness.failureThreshold,
      DEFAULT_PROBE_FAILURE_THRESHOLD,
      "positive integer",
    ),
    startupTimeoutMs: numberOption(
      `${at}.startupTimeoutMs`,
      definition.startupTimeoutMs,
      defaults.startupTimeoutMs,
      "positive",
    ),
    stopGracePeriodMs: numberOption(
      `${at}.stopGracePeriodMs`,
      definition.stopGracePeriodMs,
      defaults.stopGracePeriodMs,
      "positive",
    ),
    stdio: stdioOption(`${at}.stdio`, definition.stdio, defaults.stdio),
    ...limits,
    labels,
    annotations: recordOption(`${at}.annotations`, definition.annotations),
    capacity: ports === undefined ? Number.POSITIVE_INFINITY : ports.to - ports.from + 1,
  }
}

/** Throws when the service's ports cannot hold `count` replicas at once. */
export function checkCapacity(name: string, count: number, definition: ResolvedDefinition): void {
  if (count <= definition.capacity) return
  const { from, to } = definition.ports!
  throw new RangeError(
    `${name} cannot run ${count} replicas: its ports ${from}-${to} allow ${definition.capacity}`,
  )
}

/** A new service, scaled to `definition.replicas` (default 0), its definition checked. */
export function newService(
  name: string,
  definition: ProcessServiceDefinition,
  defaults: ServiceDefaults,
): Service {
  const resolved = resolveDefinition(name, definition, defaults)
  const at = `services.${name}.replicas`
  const desired = numberOption(at, definition.replicas, 0, "non-negative integer")
  checkCapacity(name, desired, resolved)
  return {
    name,
    definition: resolved,
    desired,
    replicas: [],
    crashes: 0,
    failures: 0,
    backoffUntil: 0,
    restartTimer: undefined,
    lastExit: undefined,
    lastError: undefined,
    reconciling: undefined,
    dirty: false,
    waitingForPort: false,
    removed: false,
    nextEndpoint: 0,
  }
}

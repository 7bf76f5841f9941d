import type { SharedActivity } from "@scale-from-zero/core"
import { asError, invalidOption, numberOption } from "@scale-from-zero/core/provider"
import { Redis, type RedisOptions } from "ioredis"

/**
 * The commands this package sends, as ioredis offers them: a `Redis` or a `Cluster` of ioredis 5
 * or 6 fits. Every command touches one key, so a cluster serves each from one slot.
 */
export interface RedisClientLike {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  get(key: string): Promise<string | null>
  set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<"OK" | null>
}

export interface RedisSharedActivityOptions {
  /**
   * An ioredis client you already have. It stays yours: `close()` leaves it open, and its own
   * options (retries, offline queue) apply; every call is still bounded by `commandTimeoutMs`.
   */
  client?: RedisClientLike
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `rediss://…` for TLS. The package then owns
   * the client: it connects on first use and `close()` closes it.
   */
  url?: string
  /**
   * More ioredis options for the client made from `url` (TLS, username, …). The package sets
   * its own `lazyConnect`, `commandTimeout` and `maxRetriesPerRequest`.
   */
  redisOptions?: Omit<RedisOptions, OwnedClientOption>
  /** Prefix of every key this package writes. Default `"scale-from-zero:"`. */
  keyPrefix?: string
  /** Longest wait for one Redis reply, in milliseconds. Default 2000. */
  commandTimeoutMs?: number
  /**
   * How long a service's last activity is kept after it was last recorded, in milliseconds, so
   * services that are gone do not pile up. Must exceed the longest idle duration. Default 24 hours.
   */
  activityTtlMs?: number
}

/** Options the package chooses for a client it owns. */
type OwnedClientOption = "lazyConnect" | "commandTimeout" | "maxRetriesPerRequest" | "replyMapping"

export interface RedisSharedActivity extends SharedActivity {
  /** Closes the client made from `url` (a client passed in stays open); later calls reject. */
  close(): Promise<void>
}

/** A Redis call that failed, timed out or was made after `close()`; names the Redis address. */
export class RedisSharedActivityError extends Error {
  override readonly name = "RedisSharedActivityError"

  constructor(
    /** `host:port`, a socket path or `cluster`: never the credentials. */
    readonly address: string,
    /** The call and its service, e.g. `record(hello.openfaas-fn)`. */
    readonly operation: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`redis at ${address}: ${operation}: ${reason}`, options)
  }
}

export const DEFAULT_KEY_PREFIX = "scale-from-zero:"
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000
export const DEFAULT_ACTIVITY_TTL_MS = 24 * 60 * 60_000

// What an owned client's own commandTimeout rejects with (also emitted for its ready check):
// reported as this package's own timeout, and never as a connection error.
const IOREDIS_TIMEOUT_MESSAGE = "Command timed out"

// Keeps the later of the stored and the given time, atomically across instances; refreshes the
// expiry either way, since the service is still in use.
const RECORD_MAX_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current == false or tonumber(ARGV[1]) > tonumber(current) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`

/**
 * SharedActivity in Redis: several gateway instances record their services' activity in one
 * Redis, so an idle check sees the latest use by any instance, and a `SET NX PX` claim lets
 * exactly one instance scale an idle service down.
 */
export function createRedisSharedActivity(
  options: RedisSharedActivityOptions,
): RedisSharedActivity {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("options", "an object with `client` or `url`", options)
  }
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX
  if (typeof keyPrefix !== "string") throw invalidOption("keyPrefix", "a string", keyPrefix)
  const commandTimeoutMs = numberOption(
    "commandTimeoutMs",
    options.commandTimeoutMs,
    DEFAULT_COMMAND_TIMEOUT_MS,
    "positive",
  )
  const activityTtlMs = numberOption(
    "activityTtlMs",
    options.activityTtlMs,
    DEFAULT_ACTIVITY_TTL_MS,
    "positive",
  )
  if ((options.client === undefined) === (options.url === undefined)) {
    throw invalidOption(
      "client",
      "given, or else `url`: exactly one of `client` and `url`",
      options.client,
    )
  }
  if (
    options.client !== undefined &&
    (typeof options.client !== "object" ||
      options.client === null ||
      typeof options.client.eval !== "function")
  ) {
    throw invalidOption("client", "an ioredis client (Redis or Cluster)", options.client)
  }

  let lastConnectionError: Error | undefined
  let owned: Redis | undefined
  let client: RedisClientLike
  let address: string
  if (options.url !== undefined) {
    address = describeUrl(options.url)
    owned = new Redis(options.url, {
      ...options.redisOptions,
      lazyConnect: true,
      commandTimeout: commandTimeoutMs,
      connectTimeout: options.redisOptions?.connectTimeout ?? commandTimeoutMs,
      // A command waits for at most one reconnect: the caller's bound is commandTimeoutMs anyway.
      maxRetriesPerRequest: 1,
    })
    // Connection errors reach the caller through its command; keep the latest to explain it.
    owned.on("error", (error: Error) => {
      if (error.message !== IOREDIS_TIMEOUT_MESSAGE) lastConnectionError = error
    })
    owned.on("ready", () => {
      lastConnectionError = undefined
    })
    client = owned
  } else {
    client = options.client as RedisClientLike
    address = describeClient(client)
  }

  const instanceToken = `${Date.now().toString(36)}-${crypto.randomUUID()}`
  let closed = false
  const timeoutReason = `no reply within ${commandTimeoutMs} ms`

  const call = async <T>(operation: string, command: () => Promise<T>): Promise<T> => {
    if (closed) throw new RedisSharedActivityError(address, operation, "closed")
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(timeoutReason)), commandTimeoutMs)
    })
    try {
      return await Promise.race([command(), timeout])
    } catch (error) {
      const cause = asError(error)
      throw new RedisSharedActivityError(address, operation, explain(cause), { cause })
    } finally {
      clearTimeout(timer)
    }
  }

  const explain = (cause: Error) => {
    // ioredis's own words for "the reconnects ran out" and "no reply", in this package's.
    const reason =
      cause.name === "MaxRetriesPerRequestError"
        ? "not connected"
        : cause.message === IOREDIS_TIMEOUT_MESSAGE
          ? timeoutReason
          : cause.message
    return lastConnectionError !== undefined && lastConnectionError.message !== cause.message
      ? `${reason} (${lastConnectionError.message})`
      : reason
  }

  const activityKey = (name: string, namespace: string) =>
    `${keyPrefix}activity:${encodeKeyPart(namespace)}:${encodeKeyPart(name)}`
  const claimKey = (name: string, namespace: string) =>
    `${keyPrefix}scale-down:${encodeKeyPart(namespace)}:${encodeKeyPart(name)}`

  return {
    async record(name, namespace, at) {
      if (!Number.isFinite(at) || at < 0) {
        throw new RangeError(`record: \`at\` must be an epoch time in milliseconds, got ${at}`)
      }
      await call(`record(${name}.${namespace})`, () =>
        client.eval(
          RECORD_MAX_SCRIPT,
          1,
          activityKey(name, namespace),
          String(at),
          Math.ceil(activityTtlMs),
        ),
      )
    },

    async lastActive(name, namespace) {
      const value = await call(`lastActive(${name}.${namespace})`, () =>
        client.get(activityKey(name, namespace)),
      )
      if (value === null) return undefined
      const at = Number(value)
      if (!Number.isFinite(at)) {
        throw new RedisSharedActivityError(
          address,
          `lastActive(${name}.${namespace})`,
          `key ${activityKey(name, namespace)} holds ${JSON.stringify(value)}, not a time`,
        )
      }
      return at
    },

    async claimScaleDown(name, namespace, ttlMs) {
      requirePositive("claimScaleDown: ttlMs", ttlMs)
      const reply = await call(`claimScaleDown(${name}.${namespace})`, () =>
        client.set(claimKey(name, namespace), instanceToken, "PX", Math.ceil(ttlMs), "NX"),
      )
      return reply === "OK"
    },

    async close() {
      if (closed) return
      closed = true
      if (owned === undefined) return
      const connection = owned
      if (connection.status === "ready") {
        // QUIT lets replies in flight arrive; bounded, then the socket goes regardless.
        let timer: ReturnType<typeof setTimeout> | undefined
        const bound = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, commandTimeoutMs)
        })
        await Promise.race([connection.quit().catch(() => undefined), bound])
        clearTimeout(timer)
      }
      connection.disconnect()
    },
  }
}

/**
 * Keeps letters, digits, `.`, `_` and `-`; every other UTF-16 unit becomes `%` and four hex
 * digits. Injective, so no two names share a key (`:` and `/` cannot act as separators, `{`
 * cannot form a cluster hash tag, and a lone surrogate is not merged into U+FFFD).
 */
export function encodeKeyPart(part: string): string {
  return part.replace(
    /[^A-Za-z0-9._-]/g,
    (unit) => `%${unit.charCodeAt(0).toString(16).padStart(4, "0")}`,
  )
}

function requirePositive(option: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${option} must be a positive number of milliseconds, got ${value}`)
  }
}

/** `host:port` (or the socket path) of a Redis URL, without credentials. */
function describeUrl(url: string): string {
  let parsed: URL
  const expected = "a redis:// or rediss:// URL"
  if (typeof url !== "string") throw invalidOption("url", expected, url)
  try {
    parsed = new URL(url)
  } catch {
    throw invalidOption("url", expected, url.replace(/\/\/[^@/]*@/, "//…@"))
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw invalidOption("url", expected, `${parsed.protocol}//…`)
  }
  return `${parsed.hostname || "localhost"}:${parsed.port || "6379"}`
}

/** What an ioredis client says it connects to: `host:port`, its socket path, or `cluster`. */
function describeClient(client: RedisClientLike): string {
  const { options, isCluster } = client as {
    options?: { host?: string; port?: number; path?: string | null }
    isCluster?: boolean
  }
  if (isCluster === true) return "cluster"
  if (options?.path) return options.path
  return `${options?.host ?? "localhost"}:${options?.port ?? 6379}`
}

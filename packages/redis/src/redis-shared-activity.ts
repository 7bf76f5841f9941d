import type {
  ServiceQueryResponse,
  SharedActivity,
  SharedConcurrency,
  SharedWakes,
} from "@scale-from-zero/core"
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
  /** Needed by shared wakes (`publishReady`). */
  publish?(channel: string, message: string): Promise<number>
  /** Needed by shared wakes (`onReady`): a second connection, for the subscription. */
  duplicate?(): RedisSubscriberLike
}

/** The subscriber connection shared wakes listen on: ioredis's `duplicate()` of the client. */
export interface RedisSubscriberLike {
  subscribe(channel: string): Promise<unknown>
  unsubscribe(channel: string): Promise<unknown>
  on(event: "message", listener: (channel: string, message: string) => void): unknown
  on(event: "error", listener: (error: Error) => void): unknown
  disconnect(): void
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
  /**
   * Milliseconds a wake's claim lasts unless its instance renews it (every third of this): an
   * instance that crashed mid-wake is taken over this long after its last renewal, plus a
   * quarter. Default 5000.
   */
  wakeClaimTtlMs?: number
}

/** Options the package chooses for a client it owns. */
type OwnedClientOption = "lazyConnect" | "commandTimeout" | "maxRetriesPerRequest" | "replyMapping"

/**
 * Everything gateway instances share through one Redis: idle activity (`scaleToZero.shared`),
 * concurrency (`scaleOut.shared`) and wakes (`sharedWakes`).
 */
export interface RedisSharedActivity extends SharedActivity, SharedConcurrency, SharedWakes {
  /**
   * Closes the client made from `url` (a client passed in stays open) and the subscriber
   * connection shared wakes opened; later calls reject.
   */
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
export const DEFAULT_WAKE_CLAIM_TTL_MS = 5_000

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

// The services recorded, by when (this instance's clock) they were last recorded: adds one and
// keeps the set itself as long as its newest record.
const REGISTER_SCRIPT = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

// Forgets the services last recorded before ARGV[1], then lists the others.
const RECORDED_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`

const UNREGISTER_SCRIPT = `return redis.call('ZREM', KEYS[1], ARGV[1])`

// Takes the claim when free, or keeps it when this instance holds it: 1, else 0.
const CLAIM_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`

// Extends (ARGV[2] set) or releases (ARGV[2] empty) the claim only when this instance holds it.
const HOLDER_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`

// One hash per service: each instance's count and when it expires, by Redis's own clock (the
// instances' clocks may disagree). The hash itself lasts as long as the latest entry.
const PUBLISH_COUNT_SCRIPT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (ms + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

// Sums the entries that have not expired, and drops those that have.
const TOTAL_COUNT_SCRIPT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #entries, 2 do
  local count, expires = string.match(entries[i + 1], '^(%d+):(%d+)$')
  if count ~= nil and tonumber(expires) > ms then
    total = total + tonumber(count)
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
return total
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
  const wakeClaimTtlMs = numberOption(
    "wakeClaimTtlMs",
    options.wakeClaimTtlMs,
    DEFAULT_WAKE_CLAIM_TTL_MS,
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
  const serviceKeyOf = (kind: string, name: string, namespace: string) =>
    `${keyPrefix}${kind}:${encodeKeyPart(namespace)}:${encodeKeyPart(name)}`
  const claimKey = (name: string, namespace: string) => serviceKeyOf("scale-down", name, namespace)
  const recordedKey = `${keyPrefix}recorded`
  // One member per service; JSON keeps ("a.b", "c") and ("a", "b.c") apart.
  const recordedMember = (name: string, namespace: string) => JSON.stringify([namespace, name])
  const readyChannel = (name: string, namespace: string) => serviceKeyOf("ready", name, namespace)

  /** The subscriber connection, opened by the first `onReady`; one per instance. */
  let subscriber: RedisSubscriberLike | undefined
  const readyListeners = new Map<string, Set<(status: ServiceQueryResponse) => void>>()
  const pendingSubscriptions = new Map<string, Promise<void>>()
  const subscriberFor = (operation: string) => {
    if (subscriber !== undefined) return subscriber
    if (typeof client.duplicate !== "function") {
      throw new RedisSharedActivityError(address, operation, "the client has no duplicate()")
    }
    const connection = client.duplicate()
    connection.on("error", (error: Error) => {
      if (error.message !== IOREDIS_TIMEOUT_MESSAGE) lastConnectionError = error
    })
    connection.on("message", (channel: string, message: string) => {
      const listeners = readyListeners.get(channel)
      if (listeners === undefined) return
      let status: ServiceQueryResponse
      try {
        status = JSON.parse(message) as ServiceQueryResponse
      } catch {
        return // not ours: a ready message is always a status
      }
      for (const listener of [...listeners]) listener(status)
    })
    subscriber = connection
    return connection
  }

  const claim = async (operation: string, key: string, ttlMs: number) =>
    (await call(operation, () =>
      client.eval(CLAIM_SCRIPT, 1, key, instanceToken, Math.ceil(ttlMs)),
    )) === 1

  const asHolder = async (operation: string, key: string, ttlMs: number | undefined) =>
    (await call(operation, () =>
      client.eval(
        HOLDER_SCRIPT,
        1,
        key,
        instanceToken,
        ttlMs === undefined ? "" : Math.ceil(ttlMs),
      ),
    )) === 1

  return {
    wakeClaimTtlMs,
    async record(name, namespace, at) {
      if (!Number.isFinite(at) || at < 0) {
        throw new RangeError(`record: \`at\` must be an epoch time in milliseconds, got ${at}`)
      }
      const ttl = Math.ceil(activityTtlMs)
      await call(`record(${name}.${namespace})`, () =>
        // Two keys, two calls: in a Redis Cluster they may live on different nodes.
        Promise.all([
          client.eval(RECORD_MAX_SCRIPT, 1, activityKey(name, namespace), String(at), ttl),
          client.eval(
            REGISTER_SCRIPT,
            1,
            recordedKey,
            Date.now(),
            recordedMember(name, namespace),
            ttl,
          ),
        ]),
      )
    },

    async recordedServices() {
      const members = await call("recordedServices()", () =>
        client.eval(RECORDED_SCRIPT, 1, recordedKey, Date.now() - activityTtlMs),
      )
      if (!Array.isArray(members)) return []
      return members.flatMap((member) => {
        try {
          const [namespace, name] = JSON.parse(String(member)) as unknown[]
          return typeof name === "string" && typeof namespace === "string"
            ? [{ name, namespace }]
            : []
        } catch {
          return [] // not written by this package
        }
      })
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
      const operation = `claimScaleDown(${name}.${namespace})`
      const reply = await call(operation, () =>
        client.set(claimKey(name, namespace), instanceToken, "PX", Math.ceil(ttlMs), "NX"),
      )
      if (reply !== "OK") return false
      // Scaled down from now: no instance needs to adopt it until it is recorded again. Left
      // listed (Redis failing here), it costs whoever adopts it one status read showing zero.
      await call(operation, () =>
        client.eval(UNREGISTER_SCRIPT, 1, recordedKey, recordedMember(name, namespace)),
      ).catch(() => {})
      return true
    },

    async publishConcurrency(name, namespace, count, ttlMs) {
      if (!Number.isInteger(count) || count < 0) {
        throw new RangeError(`publishConcurrency: count must be a whole number, got ${count}`)
      }
      requirePositive("publishConcurrency: ttlMs", ttlMs)
      await call(`publishConcurrency(${name}.${namespace})`, () =>
        client.eval(
          PUBLISH_COUNT_SCRIPT,
          1,
          serviceKeyOf("concurrency", name, namespace),
          instanceToken,
          count,
          Math.ceil(ttlMs),
        ),
      )
    },

    async totalConcurrency(name, namespace) {
      const total = await call(`totalConcurrency(${name}.${namespace})`, () =>
        client.eval(TOTAL_COUNT_SCRIPT, 1, serviceKeyOf("concurrency", name, namespace)),
      )
      return Number(total)
    },

    async claimScaleOut(name, namespace, ttlMs) {
      requirePositive("claimScaleOut: ttlMs", ttlMs)
      return claim(
        `claimScaleOut(${name}.${namespace})`,
        serviceKeyOf("scale-out", name, namespace),
        ttlMs,
      )
    },

    claimWake: (name, namespace) =>
      claim(
        `claimWake(${name}.${namespace})`,
        serviceKeyOf("wake", name, namespace),
        wakeClaimTtlMs,
      ),

    renewWake: (name, namespace) =>
      asHolder(
        `renewWake(${name}.${namespace})`,
        serviceKeyOf("wake", name, namespace),
        wakeClaimTtlMs,
      ),

    async releaseWake(name, namespace) {
      await asHolder(
        `releaseWake(${name}.${namespace})`,
        serviceKeyOf("wake", name, namespace),
        undefined,
      )
    },

    async publishReady(name, namespace, status) {
      const operation = `publishReady(${name}.${namespace})`
      const { publish } = client
      if (typeof publish !== "function") {
        throw new RedisSharedActivityError(address, operation, "the client has no publish()")
      }
      // Published before the claim goes: an instance that finds the claim free has missed it
      // and reads the status itself.
      await call(operation, () =>
        publish.call(client, readyChannel(name, namespace), JSON.stringify(status)),
      )
      await asHolder(operation, serviceKeyOf("wake", name, namespace), undefined)
    },

    async onReady(name, namespace, listener, signal) {
      if (signal.aborted) return
      const operation = `onReady(${name}.${namespace})`
      const channel = readyChannel(name, namespace)
      const connection = subscriberFor(operation)
      let listeners = readyListeners.get(channel)
      const first = listeners === undefined
      if (listeners === undefined) {
        listeners = new Set()
        readyListeners.set(channel, listeners)
      }
      const own = listeners
      own.add(listener)
      signal.addEventListener(
        "abort",
        () => {
          own.delete(listener)
          if (own.size !== 0 || readyListeners.get(channel) !== own) return
          readyListeners.delete(channel)
          if (!closed) connection.unsubscribe(channel).catch(() => {})
        },
        { once: true },
      )
      // Later listeners of the channel wait for the same subscription to be in place.
      if (first) {
        const subscribed = call(operation, () => connection.subscribe(channel)).then(() => {})
        pendingSubscriptions.set(channel, subscribed)
        subscribed.then(
          () => pendingSubscriptions.delete(channel),
          () => pendingSubscriptions.delete(channel),
        )
      }
      await pendingSubscriptions.get(channel)
    },

    async close() {
      if (closed) return
      closed = true
      subscriber?.disconnect()
      readyListeners.clear()
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

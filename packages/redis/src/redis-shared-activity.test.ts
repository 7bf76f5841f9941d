import { once } from "node:events"
import { createServer, type Server, type Socket } from "node:net"
import { REDIS_URL, requireRedis, uniquePrefix } from "@scale-from-zero/test-kit/redis-server"
import { Redis } from "ioredis"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  createRedisSharedActivity,
  DEFAULT_ACTIVITY_TTL_MS,
  encodeKeyPart,
  type RedisSharedActivity,
  RedisSharedActivityError,
} from "./index.js"

const NS = "openfaas-fn"

describe("createRedisSharedActivity options", () => {
  it("needs exactly one of client and url", () => {
    expect(() => createRedisSharedActivity({})).toThrow(/exactly one of `client` and `url`/)
    const client = new Redis({ lazyConnect: true })
    expect(() => createRedisSharedActivity({ client, url: "redis://127.0.0.1:1" })).toThrow(
      /exactly one/,
    )
    client.disconnect()
  })

  it("rejects a url that is not a redis one", () => {
    expect(() => createRedisSharedActivity({ url: "not a url" })).toThrow(
      'option url must be a redis:// or rediss:// URL, got "not a url"',
    )
    expect(() => createRedisSharedActivity({ url: "http://127.0.0.1:6379" })).toThrow(
      'option url must be a redis:// or rediss:// URL, got "http://…"',
    )
  })

  it("rejects timeouts that are not positive", () => {
    expect(() => createRedisSharedActivity({ url: REDIS_URL, commandTimeoutMs: 0 })).toThrow(
      "option commandTimeoutMs must be a positive number, got 0",
    )
    expect(() => createRedisSharedActivity({ url: REDIS_URL, activityTtlMs: Number.NaN })).toThrow(
      "option activityTtlMs must be a positive number, got NaN",
    )
  })

  it.each([
    [null, "option options must be an object with `client` or `url`, got null"],
    ["redis://x", 'option options must be an object with `client` or `url`, got "redis://x"'],
    [{ client: 5 }, "option client must be an ioredis client (Redis or Cluster), got 5"],
    [{ url: REDIS_URL, keyPrefix: 5 }, "option keyPrefix must be a string, got 5"],
    [{ url: 6379 }, "option url must be a redis:// or rediss:// URL, got 6379"],
  ])("refuses %o with a TypeError (ERR_INVALID_OPTION) naming the option", (options, message) => {
    const create = () => createRedisSharedActivity(options as never)
    expect(create).toThrow(message)
    expect(create).toThrow(
      expect.objectContaining({ name: "TypeError", code: "ERR_INVALID_OPTION" }),
    )
  })
})

describe("encodeKeyPart", () => {
  it("keeps DNS-style names readable and escapes every other UTF-16 unit", () => {
    expect(encodeKeyPart("hello-world_1.v2")).toBe("hello-world_1.v2")
    expect(encodeKeyPart("a:b/{c}")).toBe("a%003ab%002f%007bc%007d")
    expect(encodeKeyPart("%")).toBe("%0025")
    expect(encodeKeyPart("\ud800")).toBe("%d800")
    expect(encodeKeyPart("🚀")).toBe("%d83d%de80")
  })
})

describe("unreachable Redis", () => {
  let blackHole: Server
  let blackHolePort: number
  const held = new Set<Socket>()
  let refusedPort: number

  beforeAll(async () => {
    // Accepts connections and never answers: a Redis that hangs.
    blackHole = createServer((socket) => {
      socket.resume() // reads (and drops) what arrives, so the client's FIN is seen
      held.add(socket)
      socket.on("close", () => held.delete(socket))
    })
    blackHole.listen(0, "127.0.0.1")
    await once(blackHole, "listening")
    blackHolePort = (blackHole.address() as { port: number }).port
    // A port nothing listens on: taken, then released.
    const probe = createServer().listen(0, "127.0.0.1")
    await once(probe, "listening")
    refusedPort = (probe.address() as { port: number }).port
    await new Promise((resolve) => probe.close(resolve))
  })

  afterAll(async () => {
    for (const socket of held) socket.destroy()
    await new Promise((resolve) => blackHole.close(resolve))
  })

  const expectBoundedFailure = async (
    activity: RedisSharedActivity,
    address: string,
    reason: RegExp,
    boundMs: number,
  ) => {
    const calls: [string, () => Promise<unknown>][] = [
      ["record(svc.openfaas-fn)", () => activity.record("svc", NS, Date.now())],
      ["lastActive(svc.openfaas-fn)", () => activity.lastActive("svc", NS)],
      ["claimScaleDown(svc.openfaas-fn)", () => activity.claimScaleDown("svc", NS, 1_000)],
    ]
    for (const [operation, call] of calls) {
      const started = performance.now()
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      )
      const elapsed = performance.now() - started
      expect(error).toBeInstanceOf(RedisSharedActivityError)
      const failure = error as RedisSharedActivityError
      expect(failure.address).toBe(address)
      expect(failure.operation).toBe(operation)
      expect(failure.message).toMatch(
        new RegExp(`^redis at ${address}: ${escapeRegExp(operation)}: `),
      )
      expect(failure.message).toMatch(reason)
      expect(elapsed).toBeLessThan(boundMs)
    }
  }

  it("rejects every call with an error naming the address when nothing listens", async () => {
    const address = `127.0.0.1:${refusedPort}`
    const activity = createRedisSharedActivity({
      url: `redis://127.0.0.1:${refusedPort}`,
      commandTimeoutMs: 300,
    })
    try {
      await expectBoundedFailure(
        activity,
        address,
        /: (not connected|no reply within 300 ms) \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/,
        1_500,
      )
    } finally {
      await activity.close()
    }
  })

  it("rejects every call after commandTimeoutMs when Redis accepts but never answers", async () => {
    const address = `127.0.0.1:${blackHolePort}`
    const activity = createRedisSharedActivity({
      url: `redis://127.0.0.1:${blackHolePort}`,
      commandTimeoutMs: 200,
    })
    await expectBoundedFailure(activity, address, /: no reply within 200 ms$/, 1_200)
    await activity.close()
    // close() released the connection it had opened.
    await waitFor(() => held.size === 0, 2_000)
  })

  it("bounds the calls on a client passed in too, and names its address", async () => {
    const client = new Redis({
      host: "127.0.0.1",
      port: blackHolePort,
      lazyConnect: true,
      retryStrategy: () => null,
    })
    client.on("error", () => {})
    const activity = createRedisSharedActivity({ client, commandTimeoutMs: 200 })
    try {
      await expectBoundedFailure(
        activity,
        `127.0.0.1:${blackHolePort}`,
        /: no reply within 200 ms$/,
        1_200,
      )
    } finally {
      client.disconnect()
    }
  })

  it("never puts the password of the url in an error", async () => {
    const activity = createRedisSharedActivity({
      url: `redis://user:hunter2@127.0.0.1:${refusedPort}`,
      commandTimeoutMs: 300,
    })
    try {
      const error = (await activity.lastActive("svc", NS).catch((e: unknown) => e)) as Error
      expect(error.message).toContain(`127.0.0.1:${refusedPort}`)
      expect(error.message).not.toContain("hunter2")
    } finally {
      await activity.close()
    }
  })
})

const skipReason = await requireRedis()

describe.skipIf(skipReason !== undefined)(`on a real Redis at ${REDIS_URL}`, () => {
  let inspector: Redis
  const opened: RedisSharedActivity[] = []

  const open = (options: Parameters<typeof createRedisSharedActivity>[0]) => {
    const activity = createRedisSharedActivity(options)
    opened.push(activity)
    return activity
  }

  beforeAll(() => {
    inspector = new Redis(REDIS_URL)
  })

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((activity) => activity.close()))
  })

  afterAll(async () => {
    await inspector.quit()
  })

  it("stores activity and claims under the prefix, with expiries", async () => {
    const keyPrefix = uniquePrefix()
    const activity = open({ url: REDIS_URL, keyPrefix })
    const now = Date.now()
    await activity.record("a:b", NS, now)
    expect(await activity.claimScaleDown("a:b", NS, 5_000)).toBe(true)

    const activityKey = `${keyPrefix}activity:openfaas-fn:a%003ab`
    const claimKey = `${keyPrefix}scale-down:openfaas-fn:a%003ab`
    expect((await inspector.keys(`${keyPrefix}*`)).sort()).toEqual([activityKey, claimKey])
    expect(await inspector.get(activityKey)).toBe(String(now))
    const activityTtl = await inspector.pttl(activityKey)
    expect(activityTtl).toBeGreaterThan(DEFAULT_ACTIVITY_TTL_MS - 60_000)
    expect(activityTtl).toBeLessThanOrEqual(DEFAULT_ACTIVITY_TTL_MS)
    const claimTtl = await inspector.pttl(claimKey)
    expect(claimTtl).toBeGreaterThan(0)
    expect(claimTtl).toBeLessThanOrEqual(5_000)
  })

  it("forgets a service activityTtlMs after its last record", async () => {
    const activity = open({ url: REDIS_URL, keyPrefix: uniquePrefix(), activityTtlMs: 150 })
    await activity.record("gone", NS, Date.now())
    expect(await activity.lastActive("gone", NS)).toBeTypeOf("number")
    await waitFor(async () => (await activity.lastActive("gone", NS)) === undefined, 2_000)
  })

  it("never confuses services whose namespace and name split differently", async () => {
    const activity = open({ url: REDIS_URL, keyPrefix: uniquePrefix() })
    await activity.record("a/b", "ns", 1)
    await activity.record("b", "ns/a", 2)
    await activity.record("b:c", "a", 3)
    await activity.record("c", "a:b", 4)
    expect(await activity.lastActive("a/b", "ns")).toBe(1)
    expect(await activity.lastActive("b", "ns/a")).toBe(2)
    expect(await activity.lastActive("b:c", "a")).toBe(3)
    expect(await activity.lastActive("c", "a:b")).toBe(4)
  })

  it("rejects a time that is not an epoch time and a claim ttl that is not positive", async () => {
    const activity = open({ url: REDIS_URL, keyPrefix: uniquePrefix() })
    await expect(activity.record("svc", NS, Number.NaN)).rejects.toThrow(
      /record: `at` must be an epoch time in milliseconds, got NaN/,
    )
    await expect(activity.claimScaleDown("svc", NS, 0)).rejects.toThrow(
      /claimScaleDown: ttlMs must be a positive number of milliseconds, got 0/,
    )
  })

  it("reports a key that holds something else than a time", async () => {
    const keyPrefix = uniquePrefix()
    const activity = open({ url: REDIS_URL, keyPrefix })
    await inspector.set(`${keyPrefix}activity:openfaas-fn:svc`, "soon", "PX", 10_000)
    await expect(activity.lastActive("svc", NS)).rejects.toThrow(
      /^redis at 127\.0\.0\.1:\d+: lastActive\(svc\.openfaas-fn\): key .* holds "soon", not a time$/,
    )
  })

  it("leaves a client passed in open, and refuses calls once closed", async () => {
    const client = new Redis(REDIS_URL)
    try {
      const activity = createRedisSharedActivity({ client, keyPrefix: uniquePrefix() })
      await activity.record("svc", NS, 1)
      await activity.close()
      await expect(activity.lastActive("svc", NS)).rejects.toThrow(
        /^redis at 127\.0\.0\.1:\d+: lastActive\(svc\.openfaas-fn\): closed$/,
      )
      expect(await client.ping()).toBe("PONG")
    } finally {
      await client.quit()
    }
  })

  it("closes the client it made from the url, once, and refuses calls after", async () => {
    const connectionName = `sfz-close-${uniquePrefix().split(":")[1]}`
    const activity = createRedisSharedActivity({
      url: REDIS_URL,
      keyPrefix: uniquePrefix(),
      redisOptions: { connectionName },
    })
    await activity.record("svc", NS, 1)
    const isConnected = async () =>
      String(await inspector.call("CLIENT", "LIST")).includes(`name=${connectionName} `)
    expect(await isConnected()).toBe(true)
    await activity.close()
    await activity.close()
    await waitFor(async () => !(await isConnected()), 2_000)
    await expect(activity.claimScaleDown("svc", NS, 1_000)).rejects.toBeInstanceOf(
      RedisSharedActivityError,
    )
  })
})

async function waitFor(condition: () => boolean | Promise<boolean>, boundMs: number) {
  const deadline = Date.now() + boundMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${boundMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
}

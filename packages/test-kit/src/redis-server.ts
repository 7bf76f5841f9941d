import { randomBytes } from "node:crypto"
import { Redis } from "ioredis"

/** The Redis that .ci/setup-redis.sh starts; SFZ_REDIS_URL points the tests elsewhere. */
export const REDIS_URL = process.env.SFZ_REDIS_URL ?? "redis://127.0.0.1:6390"

/** Why the test Redis cannot be used, or undefined when it answers PING. */
export async function redisProblem(): Promise<string | undefined> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  let connectionError: Error | undefined
  client.on("error", (error: Error) => {
    connectionError = error // says why better than the failed PING ("Connection is closed.")
  })
  try {
    const reply = await client.ping()
    return reply === "PONG" ? undefined : `redis at ${REDIS_URL} answered ${reply} to PING`
  } catch (error) {
    const why = (connectionError ?? (error as Error)).message
    return `no redis at ${REDIS_URL} (${why}); run .ci/setup-redis.sh as root`
  } finally {
    client.disconnect()
  }
}

/**
 * Under CI a missing Redis is a failure: throws. Elsewhere returns the reason to skip,
 * printed once, or undefined when Redis answers.
 */
export async function requireRedis(): Promise<string | undefined> {
  const problem = await redisProblem()
  if (problem === undefined) return undefined
  if (process.env.CI === "true") throw new Error(`CI needs a real Redis: ${problem}`)
  console.warn(`skipping Redis tests: ${problem}`)
  return problem
}

/** A key prefix unique to one test, so tests, parallel runs and leftovers never share keys. */
export function uniquePrefix(): string {
  return `sfz-test:${randomBytes(6).toString("hex")}:`
}

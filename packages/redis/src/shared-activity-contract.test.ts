import { createMemorySharedActivity } from "@scale-from-zero/core/testing"
import { REDIS_URL, requireRedis, uniquePrefix } from "@scale-from-zero/test-kit/redis-server"
import { runSharedActivityContract } from "@scale-from-zero/test-kit/shared-activity-contract"
import { describe } from "vitest"
import { createRedisSharedActivity } from "./index.js"

// The reference: gateways in one process share one memory object.
runSharedActivityContract("core memory", () => {
  const shared = createMemorySharedActivity()
  return { instances: [shared, shared] }
})

const skipReason = await requireRedis()

describe.skipIf(skipReason !== undefined)("redis", () => {
  // Two clients on one Redis, as two gateway instances would hold them.
  runSharedActivityContract(`redis at ${REDIS_URL}`, () => {
    const keyPrefix = uniquePrefix()
    const a = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    const b = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    return {
      instances: [a, b],
      async cleanup() {
        await Promise.all([a.close(), b.close()])
      },
    }
  })
})

export {
  createRedisSharedActivity,
  DEFAULT_ACTIVITY_TTL_MS,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_KEY_PREFIX,
  DEFAULT_WAKE_CLAIM_TTL_MS,
  encodeKeyPart,
  type RedisClientLike,
  type RedisSharedActivity,
  RedisSharedActivityError,
  type RedisSharedActivityOptions,
  type RedisSubscriberLike,
} from "./redis-shared-activity.js"

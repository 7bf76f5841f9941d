export {
  createRedisSharedActivity,
  DEFAULT_ACTIVITY_TTL_MS,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_KEY_PREFIX,
  encodeKeyPart,
  type RedisClientLike,
  type RedisSharedActivity,
  RedisSharedActivityError,
  type RedisSharedActivityOptions,
} from "./redis-shared-activity.js"

export {
  DEFAULT_PORT_ENV,
  DEFAULT_PROBE_FAILURE_THRESHOLD,
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_PROBE_TIMEOUT_MS,
  DEFAULT_READY_PROBE_INTERVAL_MS,
} from "./definition.js"
export type * from "./options.js"
export { createProcessServiceQuery } from "./process-service-query.js"
export {
  DEFAULT_HOST,
  DEFAULT_RESTART_INITIAL_MS,
  DEFAULT_RESTART_MAX_MS,
  DEFAULT_RESTART_RESET_AFTER_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  DEFAULT_STOP_GRACE_PERIOD_MS,
} from "./settings.js"
export { shutdownHooksInstalled } from "./shutdown.js"

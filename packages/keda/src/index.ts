export { EXTERNAL_SCALER_PROTO } from "./protocol.js"
export {
  createKedaScaler,
  DEFAULT_ADDRESS,
  DEFAULT_METRIC_NAME,
  DEFAULT_PUBLISH_INTERVAL_MS,
  DEFAULT_PUSH_INTERVAL_MS,
  DEFAULT_TARGET_CONCURRENCY,
  type KedaScaler,
  type KedaScalerOptions,
  leaveReplicasToKeda,
} from "./scaler.js"

export * from "./docker-service-query.js"
export {
  DEFAULT_API_VERSION,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SOCKET_PATH,
  DockerEngineError,
  type EngineEndpointOptions,
} from "./engine.js"

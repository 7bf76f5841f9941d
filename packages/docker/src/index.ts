export * from "./docker-service-query.js"
export {
  DEFAULT_API_VERSION,
  DEFAULT_REQUEST_TIMEOUT,
  DEFAULT_SOCKET_PATH,
  DockerEngineError,
  type EngineEndpointOptions,
} from "./engine.js"

export {
  OpenFaaSCredentialsError,
  type OpenFaaSOperation,
  OpenFaaSProviderError,
  type OpenFaaSProviderErrorDetails,
} from "./errors.js"
export {
  DEFAULT_OPENFAAS_TIMEOUT_MS,
  type OpenFaaSBasicAuth,
  type OpenFaaSFetch,
  type OpenFaaSServiceQueryOptions,
} from "./options.js"
export { createOpenFaaSServiceQuery } from "./service-query.js"

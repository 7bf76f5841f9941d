export {
  OpenFaaSCredentialsError,
  type OpenFaaSOperation,
  OpenFaaSProviderError,
  type OpenFaaSProviderErrorDetails,
} from "./errors.js"
export {
  createOpenFaaSServiceQuery,
  DEFAULT_OPENFAAS_TIMEOUT,
  type OpenFaaSBasicAuth,
  type OpenFaaSServiceQueryOptions,
} from "./service-query.js"

export {
  OpenFaaSCredentialsError,
  type OpenFaaSOperation,
  OpenFaaSProviderError,
  type OpenFaaSProviderErrorDetails,
} from "./errors.js"
export { readScaleLabels, type ScaleLimits } from "./scale-labels.js"
export {
  createOpenFaaSServiceQuery,
  DEFAULT_OPENFAAS_TIMEOUT,
  type OpenFaaSBasicAuth,
  type OpenFaaSServiceQueryOptions,
} from "./service-query.js"

/**
 * `@scale-from-zero/core/provider`: the kit every backend is built on. A provider writes how to
 * read a status, how to set replicas and, optionally, where to hear of changes; the kit owns
 * watching, polling, errors and cleanup. See "Writing a backend" in core's README.
 */
export { asError, type Deadline, deadline } from "../abortable.js"
export {
  BackendError,
  type BackendErrorOptions,
  ERROR_CODES,
  type ErrorCode,
  hasErrorCode,
  ServiceNotFoundError,
} from "../errors.js"
export { checkNamespace, checkServiceName } from "../names.js"
export {
  describeValue,
  invalidOption,
  type NumberRule,
  numberOption,
  optionsObject,
} from "../options.js"
export { readScaleLabels, type ScaleLimits } from "../scale-labels.js"
export type {
  QueryOptions,
  ServiceQuery,
  ServiceQueryResponse,
  WatchOptions,
} from "../types.js"
export {
  type ChangeSink,
  DEFAULT_PROVIDER_POLL_INTERVAL_MS,
  defineServiceQuery,
  MAX_REOPEN_DELAY_MS,
  type ProviderServiceQuery,
  type ServiceQueryDefinition,
  type WatchErrorContext,
} from "./define-service-query.js"

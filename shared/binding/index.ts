/**
 * The binding: the TypeScript counterpart of the Python plugin's `orthanc` module, over Orthanc's
 * REST API. It imports nothing else of the project and can be used alone.
 */
export * from './enums.js';
export * from './errors.js';
export { errorBody, sendError, defaultErrorCode, type ErrorAnswer } from './error-body.js';
export { Backoff } from './backoff.js';
export { OrthancConnection, mayRetryOnNewConnection, type ConnectionOptions, type RestBody, type RawAnswer } from './connection.js';
export {
  BridgeHooks,
  DIMSE_CANNOT_UNDERSTAND,
  type ReceivedDicom,
  type ReceivedInstanceFilter,
  type IncomingCStoreInstanceFilter,
  type ReceivedNotice,
  type FindRequestQuery,
  type WorklistRequestQuery,
  type FindRequestOrigin,
  type FindRequestNotice,
  type IncomingFindRequestFilter,
  type IncomingWorklistRequestFilter,
} from './bridge-hooks.js';
export { ChangeFeed, type Change, type ChangeFeedOptions, type CursorStore } from './change-feed.js';
export { DicomInstance, type DicomTagsJson } from './dicom-instance.js';
export { RestOutput } from './rest-output.js';
export { isOrthancId, orthancIdPattern } from './orthanc-id.js';
export {
  RestRouter,
  sendJsonError,
  allowHeader,
  servesMethod,
  decodePath,
  refuseBodyByLength,
  bodyLimitOf,
  defaultMaxBodyBytes,
  type RestCallback,
  type RestRequest,
  type RegisteredRoute,
  type RouteOptions,
} from './rest-router.js';
export { callerCredentials, basicUsername, type CallerCredentials } from './caller.js';
export { RequestFilters, type IncomingHttpRequest, type IncomingHttpRequestFilter, type FilterVerdict } from './request-filters.js';
export { openStream, type StreamedAnswer } from './rest-stream.js';
export {
  createScopedBinding,
  createCallerBinding,
  restCallsOver,
  type RestCalls,
  type OrthancBinding,
  type OrthancSystem,
  type OnChangeCallback,
  type OnStoredInstanceCallback,
  type BindingParts,
  type ScopedBinding,
} from './binding.js';
export { createLogger, renamed, type Logger, type LogLevel, type LogFormat, type LogFields, type LoggerOptions } from './logger.js';

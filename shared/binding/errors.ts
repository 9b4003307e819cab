/** Stable error codes of the binding; messages may change, codes do not. */
export type BindingErrorCode =
  | 'ORC_ERR_ORTHANC_HTTP'
  | 'ORC_ERR_ORTHANC_UNREACHABLE'
  | 'ORC_ERR_ALREADY_ANSWERED'
  | 'ORC_ERR_BAD_ROUTE'
  | 'ORC_ERR_BAD_REQUEST'
  | 'ORC_ERR_NO_BRIDGE'
  /** The client of a streamed answer went away: stop producing it. */
  | 'ORC_ERR_CLIENT_GONE'
  /** `output.passThrough()` where nothing can pass the request on (outside the host's front). */
  | 'ORC_ERR_NO_PASS_THROUGH';

export class BindingError extends Error {
  constructor(
    readonly code: BindingErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BindingError';
  }
}

/** The JSON body Orthanc sends with an error when `HttpDescribeErrors` is on (its default). */
export interface OrthancErrorDetails {
  HttpError?: string;
  HttpStatus?: number;
  Message?: string;
  Method?: string;
  OrthancError?: string;
  OrthancStatus?: number;
  Uri?: string;
  Details?: string;
}

/**
 * Thrown by `restApi*` when Orthanc answers with a status outside 2xx. `orthancStatus` and
 * `orthancError` are Orthanc's own error code and its name (`17`, `"Unknown resource"`) when its
 * body gives them, as the Python plugin's exceptions carry them (the sample "Catching
 * exceptions"); Orthanc sends no body for some errors (a 404 on `/instances/{unknown id}`).
 * A recipe that lets one through answers its caller with Orthanc's status and these fields.
 */
export class OrthancHttpError extends BindingError {
  /** Orthanc's `OrthancStatus` (its `ErrorCode` enum: 3 ParameterOutOfRange, 8 BadRequest, 17 UnknownResource...). */
  readonly orthancStatus: number | undefined;
  /** Orthanc's `OrthancError`, the name of `orthancStatus` (`"Unknown resource"`). */
  readonly orthancError: string | undefined;

  constructor(
    readonly method: string,
    readonly uri: string,
    readonly httpStatus: number,
    readonly details: OrthancErrorDetails | string,
  ) {
    const why = typeof details === 'string' ? details : (details.Details ?? details.Message ?? '');
    super('ORC_ERR_ORTHANC_HTTP', `Orthanc answered ${method} ${uri} with HTTP ${httpStatus}${why ? `: ${why}` : ''}`);
    this.name = 'OrthancHttpError';
    const fields = typeof details === 'object' && details !== null ? details : {};
    this.orthancStatus = Number.isSafeInteger(fields.OrthancStatus) ? fields.OrthancStatus : undefined;
    this.orthancError = typeof fields.OrthancError === 'string' ? fields.OrthancError : undefined;
  }
}

/**
 * The error a recipe's route handler throws to answer its caller with an error: the host sends
 * `status` with the one JSON error shape (see `errorBody`), `code` as its stable `Code`
 * (kebab-case: `"bad-parameter"`, `"not-found"`; messages may change, codes do not) and
 * `details` merged in (`{ Field: "Level" }`); they never override the shape's own fields.
 */
export class RecipeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RecipeHttpError';
    if (!Number.isSafeInteger(status) || status < 400 || status > 599)
      throw new RangeError(`RecipeHttpError: status must be 4xx or 5xx, not ${status}`);
  }
}

/** Thrown when Orthanc cannot be reached at all (refused, reset, timed out). */
export class OrthancUnreachableError extends BindingError {
  constructor(method: string, uri: string, cause: unknown) {
    super('ORC_ERR_ORTHANC_UNREACHABLE', `Orthanc is unreachable (${method} ${uri}): ${describe(cause)}`, { cause });
    this.name = 'OrthancUnreachableError';
  }
}

/** True when `error` says that the client of a streamed answer went away (nothing to answer any more). */
export const isClientGone = (error: unknown): boolean => error instanceof BindingError && error.code === 'ORC_ERR_CLIENT_GONE';

/** A short, one-line description of any thrown value. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const text = typeof code === 'string' || typeof code === 'number' ? String(code) : '';
    return text && !error.message.includes(text) ? `${error.message} (${text})` : error.message;
  }
  return String(error);
}

/** True when `error` says that the resource does not exist (any more). */
export const isNotFound = (error: unknown): boolean => error instanceof OrthancHttpError && error.httpStatus === 404;

/** Stable error codes of the binding; messages may change, codes do not. */
export type BindingErrorCode =
  | 'ORC_ERR_ORTHANC_HTTP'
  | 'ORC_ERR_ORTHANC_UNREACHABLE'
  | 'ORC_ERR_ALREADY_ANSWERED'
  | 'ORC_ERR_BAD_ROUTE'
  | 'ORC_ERR_BAD_REQUEST'
  | 'ORC_ERR_NO_BRIDGE'
  /** The client of a streamed answer went away: stop producing it. */
  | 'ORC_ERR_CLIENT_GONE';

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

/** Thrown by `restApi*` when Orthanc answers with a status outside 2xx. */
export class OrthancHttpError extends BindingError {
  constructor(
    readonly method: string,
    readonly uri: string,
    readonly httpStatus: number,
    readonly details: OrthancErrorDetails | string,
  ) {
    const why = typeof details === 'string' ? details : (details.Details ?? details.Message ?? '');
    super('ORC_ERR_ORTHANC_HTTP', `Orthanc answered ${method} ${uri} with HTTP ${httpStatus}${why ? `: ${why}` : ''}`);
    this.name = 'OrthancHttpError';
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
    return code && !error.message.includes(String(code)) ? `${error.message} (${String(code)})` : error.message;
  }
  return String(error);
}

/** True when `error` says that the resource does not exist (any more). */
export const isNotFound = (error: unknown): boolean =>
  error instanceof OrthancHttpError && error.httpStatus === 404;

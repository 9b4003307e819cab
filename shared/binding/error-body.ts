import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * One error answer of the host or a recipe, before it is written. The body (see `errorBody`) has
 * the fields of Orthanc's own error body (`HttpError`, `HttpStatus`, `Message`, `Method`, `Uri`,
 * and `OrthancError`/`OrthancStatus` when the error is Orthanc's), so that a client reads ours and
 * Orthanc's alike, plus `Code`: a stable, machine-readable kebab-case string.
 */
export interface ErrorAnswer {
  status: number;
  /** Stable: `"method-not-allowed"`, `"bad-parameter"`, `"not-found"`, `"orthanc-error"`... */
  code: string;
  message: string;
  /** More fields (`Field`, `MaxBodyBytes`, `Details`); never override the shape's own. */
  details?: Record<string, unknown>;
  /** Orthanc's own error code and its name, when the error came from Orthanc. */
  orthancStatus?: number;
  orthancError?: string;
}

/** The `Code` of an error that names none, by HTTP status. */
export function defaultErrorCode(status: number): string {
  const known: Record<number, string> = {
    400: 'bad-request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not-found',
    405: 'method-not-allowed',
    408: 'request-timeout',
    409: 'conflict',
    413: 'body-too-large',
    422: 'unprocessable',
    431: 'headers-too-large',
    500: 'internal-error',
    502: 'bad-gateway',
    503: 'unavailable',
  };
  return known[status] ?? (status >= 500 ? 'internal-error' : 'bad-request');
}

/**
 * The JSON error body, Orthanc's shape (checked on Orthanc 1.10.1 and 1.12.7):
 * `{ HttpError: "Not Found", HttpStatus: 404, Message, Method: "GET", Uri: "/path",
 *   OrthancError?, OrthancStatus?, Code, ...details }`. `Method` and `Uri` (the path, without the
 * query string, as Orthanc gives it) come from `request` when there is one. `OrthancError` and
 * `OrthancStatus` appear only when the error is Orthanc's: the host does not invent Orthanc codes.
 */
export function errorBody(answer: ErrorAnswer, request?: Pick<IncomingMessage, 'method' | 'url'>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const url = request?.url;
  const own: Record<string, unknown> = {
    HttpError: STATUS_CODES[answer.status] ?? 'Error',
    HttpStatus: answer.status,
    Message: answer.message,
    ...(request?.method !== undefined ? { Method: request.method } : {}),
    ...(url !== undefined ? { Uri: url.split('?')[0] } : {}),
    ...(answer.orthancError !== undefined ? { OrthancError: answer.orthancError } : {}),
    ...(answer.orthancStatus !== undefined ? { OrthancStatus: answer.orthancStatus } : {}),
    Code: answer.code,
  };
  for (const [key, value] of Object.entries(answer.details ?? {})) if (!(key in own)) body[key] = value;
  return { ...own, ...body };
}

/**
 * Sends the JSON error body for `answer` (see `errorBody`), with `Method` and `Uri` from the
 * response's request. When the answer has begun already, the connection is closed instead.
 */
export function sendError(response: ServerResponse, answer: ErrorAnswer, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const text = JSON.stringify(errorBody(answer, response.req), null, 2) + '\n';
  response.writeHead(answer.status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

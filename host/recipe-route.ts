import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BindingError,
  OrthancHttpError,
  OrthancUnreachableError,
  RecipeHttpError,
  RestOutput,
  allowHeader,
  bodyLimitOf,
  sendError,
  servesMethod,
  refuseBodyByLength,
  createCallerBinding,
  describe,
  isClientGone,
  sendJsonError,
  type CallerCredentials,
  type ErrorAnswer,
  type Logger,
  type OrthancConnection,
  type RegisteredRoute,
} from '../shared/binding/index.js';

/**
 * Runs one REST callback: refuses a method the route does not declare (405 and `Allow`, before
 * any of the body is read), reads the body (at most `maxBodyBytes`), calls it, and turns what it
 * throws into the one JSON error shape (see `errorAnswerOf`) instead of a crash.
 */
export async function serveRecipeRoute(
  route: RegisteredRoute,
  groups: string[],
  path: string,
  request: IncomingMessage,
  response: ServerResponse,
  options: {
    log: Logger;
    maxBodyBytes: number;
    /** The host's connection: the caller's binding uses its pool with `caller`'s credentials. */
    connection: OrthancConnection;
    caller: CallerCredentials;
    /** Called before a 413 is sent with the body still arriving (the host then drops the rest). */
    beforeEarlyAnswer?: () => void;
    /** Hands the request, whose body was read as `body`, on to Orthanc (the front's proxy): `output.passThrough()`. */
    passThrough?: (body: Buffer) => Promise<void>;
  },
): Promise<void> {
  const method = request.method ?? 'GET';
  if (!servesMethod(route, method)) {
    options.beforeEarlyAnswer?.();
    const allow = allowHeader(route)!;
    sendError(
      response,
      { status: 405, code: 'method-not-allowed', message: `${method} is not served here; this route serves ${allow}` },
      { allow },
    );
    return;
  }
  // The route's own limit (its recipe's declaration, within the host's MaxRecipeBodyMegabytes),
  // checked on the announced length before anything is read.
  const limit = bodyLimitOf(route, options.maxBodyBytes);
  const refusal = refuseBodyByLength(request.headers, limit);
  if (refusal !== undefined) {
    options.beforeEarlyAnswer?.();
    sendJsonError(response, 413, refusal, { MaxBodyBytes: limit });
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(request, limit);
  } catch (error) {
    options.beforeEarlyAnswer?.();
    sendJsonError(response, 413, describe(error), { MaxBodyBytes: limit });
    return;
  }
  const url = new URL(request.url ?? '/', 'http://front');
  // No prototype: a query argument or header named `toString` or `__proto__` is an own key like
  // any other, and a missing one reads as undefined.
  const get: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of url.searchParams) get[key] = value;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  const { passThrough } = options;
  const output = new RestOutput(response, passThrough && (() => passThrough(body)));
  const orthanc = createCallerBinding(options.connection.withCredentials(options.caller.headers, options.caller.names), route.binding);
  try {
    await route.callback(output, path, {
      method: request.method ?? 'GET',
      groups,
      get,
      headers,
      body,
      orthanc,
      callerId: options.caller.id,
    });
    if (!output.answered) {
      options.log.error(`recipe ${route.owner}: the handler of ${request.method} ${path} returned without answering`, {
        recipe: route.owner,
        route: route.pattern,
        method: request.method,
        status: 500,
      });
      sendJsonError(response, 500, 'The handler returned without answering');
    }
  } catch (error) {
    if (isClientGone(error)) {
      // Nothing to answer to: the response is closed already (a streamed answer's client left).
      options.log.debug(`recipe ${route.owner}: ${request.method} ${path}: the client went away during the answer`);
      return;
    }
    const answer = errorAnswerOf(error, route.owner);
    if (answer.status >= 500) {
      const level = error instanceof RecipeHttpError || error instanceof OrthancHttpError ? 'warning' : 'error';
      options.log[level](`recipe ${route.owner}: ${request.method} ${path} failed: ${describe(error)}`, {
        recipe: route.owner,
        route: route.pattern,
        method: request.method,
        status: answer.status,
        ...(level === 'error' && error instanceof Error && error.stack ? { stack: error.stack } : {}),
      });
    }
    sendError(response, answer);
  }
}

/**
 * What the caller gets for what a handler threw:
 * - `RecipeHttpError`: its status, code, message and details;
 * - `OrthancHttpError` (a call to Orthanc the handler let through): Orthanc's status, `Message`,
 *   `Details`, `OrthancStatus` and `OrthancError`, code `orthanc-error`; the URI the recipe
 *   called is not repeated (the caller did not ask for it);
 * - Orthanc unreachable: 502, code `orthanc-unreachable`;
 * - anything else: 500 with a generic message (the host's log has the error; the caller never
 *   sees internals), code `internal-error`.
 */
export function errorAnswerOf(error: unknown, owner: string): ErrorAnswer {
  if (error instanceof RecipeHttpError) return { status: error.status, code: error.code, message: error.message, details: error.details };
  if (error instanceof OrthancHttpError) {
    const fields = typeof error.details === 'object' && error.details !== null ? error.details : {};
    const valid = error.httpStatus >= 400 && error.httpStatus <= 599;
    return {
      status: valid ? error.httpStatus : 502,
      code: 'orthanc-error',
      message: typeof fields.Message === 'string' ? fields.Message : `Orthanc answered with HTTP ${error.httpStatus}`,
      details: typeof fields.Details === 'string' ? { Details: fields.Details } : undefined,
      orthancStatus: error.orthancStatus,
      orthancError: error.orthancError,
    };
  }
  if (error instanceof OrthancUnreachableError) return { status: 502, code: 'orthanc-unreachable', message: 'Orthanc is unreachable' };
  return { status: 500, code: 'internal-error', message: `the recipe ${owner} failed to answer; the host's log says why` };
}

/**
 * Reads the whole body, or rejects as soon as it exceeds `limit` bytes. The request is not
 * destroyed then (that would reset the connection before the 413 is sent): it is left paused for
 * the server to drop the rest.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      request.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      request.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        reject(
          new BindingError(
            'ORC_ERR_BAD_REQUEST',
            limit === 0 ? 'this route takes no request body' : `request body larger than this route's limit of ${limit} bytes`,
          ),
        );
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => onError(new BindingError('ORC_ERR_BAD_REQUEST', 'the client went away during the upload'));
    request.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

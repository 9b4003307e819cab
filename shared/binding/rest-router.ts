import type { IncomingMessage, ServerResponse } from 'node:http';
import { BindingError, OrthancHttpError, describe, isClientGone } from './errors.js';
import type { Logger } from './logger.js';
import { RestOutput } from './rest-output.js';

/** What a REST callback receives besides the output and the URI, as in the Python plugin. */
export interface RestRequest {
  /** `"GET"`, `"POST"`, `"PUT"`, `"DELETE"`, … */
  method: string;
  /** The regular expression's capture groups. */
  groups: string[];
  /** The query string's arguments (the last value of a repeated one). */
  get: Record<string, string>;
  /** Request headers, names in lower case. */
  headers: Record<string, string>;
  /** The request body (empty for GET). */
  body: Buffer;
}

export type RestCallback = (output: RestOutput, uri: string, request: RestRequest) => unknown;

export interface RegisteredRoute {
  owner: string;
  pattern: string;
  regex: RegExp;
  callback: RestCallback;
}

/**
 * The routes registered by `registerRestCallback`, matched in registration order against the
 * whole decoded path, as Orthanc matches its plugins' regular expressions.
 */
export class RestRouter {
  private readonly registered: RegisteredRoute[] = [];

  register(owner: string, pathRegex: string, callback: RestCallback): () => void {
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${pathRegex})$`);
    } catch (error) {
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: invalid route regular expression ${pathRegex}: ${describe(error)}`);
    }
    const route: RegisteredRoute = { owner, pattern: pathRegex, regex, callback };
    this.registered.push(route);
    return () => {
      const index = this.registered.indexOf(route);
      if (index >= 0) this.registered.splice(index, 1);
    };
  }

  get routes(): readonly RegisteredRoute[] {
    return this.registered;
  }

  match(path: string): { route: RegisteredRoute; groups: string[] } | undefined {
    for (const route of this.registered) {
      const found = route.regex.exec(path);
      if (found) return { route, groups: found.slice(1).map((group) => group ?? '') };
    }
    return undefined;
  }
}

/** Percent-decodes a request path; undefined when it is malformed. */
export function decodePath(rawPath: string): string | undefined {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
}

/** Sends Orthanc's error shape `{HttpStatus, Message}` (plus any details) as JSON. */
export function sendJsonError(response: ServerResponse, status: number, message: string, extra: object = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = JSON.stringify({ HttpStatus: status, Message: message, ...extra }, null, 2) + '\n';
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/**
 * Runs one REST callback: reads the body (at most `maxBodyBytes`), calls it, and turns what it
 * throws into a JSON error instead of a crash. An `OrthancHttpError` with a 4xx status keeps that
 * status (the resource a recipe asked Orthanc for does not exist, say); anything else is a 500.
 */
export async function runRestCallback(
  route: RegisteredRoute,
  groups: string[],
  path: string,
  request: IncomingMessage,
  response: ServerResponse,
  options: {
    log: Logger;
    maxBodyBytes: number;
    /** Called before a 413 is sent with the body still arriving (the host then drops the rest). */
    beforeEarlyAnswer?: () => void;
  },
): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(request, options.maxBodyBytes);
  } catch (error) {
    options.beforeEarlyAnswer?.();
    sendJsonError(response, 413, describe(error));
    return;
  }
  const url = new URL(request.url ?? '/', 'http://front');
  const get: Record<string, string> = {};
  for (const [key, value] of url.searchParams) get[key] = value;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  const output = new RestOutput(response);
  try {
    await route.callback(output, path, { method: request.method ?? 'GET', groups, get, headers, body });
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
      // Nothing to answer to: the response is closed already.
      options.log.debug(`recipe ${route.owner}: ${request.method} ${path}: the client went away during the answer`);
      return;
    }
    if (error instanceof OrthancHttpError && error.httpStatus >= 400 && error.httpStatus < 500) {
      sendJsonError(response, error.httpStatus, error.message, typeof error.details === 'object' ? { OrthancError: error.details.OrthancError } : {});
      return;
    }
    options.log.error(`recipe ${route.owner}: ${request.method} ${path} failed: ${describe(error)}`, {
      recipe: route.owner,
      route: route.pattern,
      method: request.method,
      status: 500,
    });
    sendJsonError(response, 500, describe(error));
  }
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
        reject(new BindingError('ORC_ERR_BAD_REQUEST', `request body larger than ${limit} bytes`));
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

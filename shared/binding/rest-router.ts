import type { IncomingMessage, ServerResponse } from 'node:http';
import { BindingError, OrthancHttpError, describe } from './errors.js';
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
  /** The largest request body this route reads, as its recipe declared it (see `RouteOptions`). */
  maxBodyBytes: number;
}

/** What a recipe declares about a route when it registers it. */
export interface RouteOptions {
  /**
   * The largest request body the route accepts, in bytes; a larger one gets a 413 before any of
   * it is read or parsed. Default `defaultMaxBodyBytes` (1 MiB, ample for a JSON request); 0 for
   * a route that takes no body. The host's `MaxRecipeBodyMegabytes` caps every route's limit.
   */
  maxBodyBytes?: number;
}

/** A route's body limit when its recipe declares none: 1 MiB, for JSON. */
export const defaultMaxBodyBytes = 2 ** 20;

/**
 * The routes registered by `registerRestCallback`, matched in registration order against the
 * whole decoded path, as Orthanc matches its plugins' regular expressions.
 */
export class RestRouter {
  private readonly registered: RegisteredRoute[] = [];

  register(owner: string, pathRegex: string, callback: RestCallback, options: RouteOptions = {}): () => void {
    const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: route ${pathRegex}: maxBodyBytes must be an integer ≥ 0, not ${String(options.maxBodyBytes)}`);
    }
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${pathRegex})$`);
    } catch (error) {
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: invalid route regular expression ${pathRegex}: ${describe(error)}`);
    }
    const route: RegisteredRoute = { owner, pattern: pathRegex, regex, callback, maxBodyBytes };
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
 * Why a request's body is refused before any of it is read: it announces more bytes than `limit`
 * (a chunked body is counted as it arrives, by `readBody`). Undefined when it may be read.
 */
export function refuseBodyByLength(headers: IncomingMessage['headers'], limit: number): string | undefined {
  if (headers['transfer-encoding'] !== undefined) return limit === 0 ? 'this route takes no request body' : undefined;
  const length = Number(headers['content-length'] ?? 0);
  if (!(length > limit)) return undefined;
  return limit === 0 ? 'this route takes no request body' : `request body of ${length} bytes, larger than this route's limit of ${limit} bytes`;
}

/** A route's body limit: what its recipe declared, within the host's ceiling. */
export const bodyLimitOf = (route: RegisteredRoute, hostCeiling: number) => Math.min(route.maxBodyBytes, hostCeiling);

/**
 * Runs one REST callback: reads the body (at most the route's limit), calls it, and turns what it
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
    /** The host's ceiling (`MaxRecipeBodyMegabytes`) over every route's own limit. */
    maxBodyBytes: number;
    /** Called before a 413 is sent with the body still arriving (the host then drops the rest). */
    beforeEarlyAnswer?: () => void;
  },
): Promise<void> {
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
        reject(new BindingError('ORC_ERR_BAD_REQUEST', limit === 0 ? 'this route takes no request body' : `request body larger than this route's limit of ${limit} bytes`));
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

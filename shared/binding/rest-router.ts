import type { IncomingMessage, ServerResponse } from 'node:http';
import { createCallerBinding, type OrthancBinding } from './binding.js';
import type { CallerCredentials } from './caller.js';
import type { OrthancConnection } from './connection.js';
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
  /**
   * The recipe's binding calling Orthanc as the caller: the request's `Authorization` and the
   * headers of `HttpServer.ForwardedAuthHeaders`, over the host's keep-alive pool. What Orthanc
   * refuses the caller, it refuses here (an `OrthancHttpError` 401/403/404, which the route
   * answers with that status when the handler lets it through).
   */
  orthanc: OrthancBinding;
  /** An opaque key of the caller's credentials (`anonymous` without), for caches kept per caller. */
  callerId: string;
}

export type RestCallback = (output: RestOutput, uri: string, request: RestRequest) => unknown;

export interface RegisteredRoute {
  owner: string;
  pattern: string;
  regex: RegExp;
  callback: RestCallback;
  /** A host action: let in only callers who pass the host-action probe (see the front). */
  hostAction: boolean;
  /** The registering recipe's binding, whose registrations and logs the caller's binding shares. */
  binding?: OrthancBinding;
}

/**
 * The routes registered by `registerRestCallback`, matched in registration order against the
 * whole decoded path, as Orthanc matches its plugins' regular expressions.
 */
export class RestRouter {
  private readonly registered: RegisteredRoute[] = [];

  /**
   * Adds a route. The same pattern twice (from two owners, or twice from one) throws
   * (`ORC_ERR_BAD_ROUTE`): the first would win silently and the second never answer.
   */
  register(owner: string, pathRegex: string, callback: RestCallback, options: { hostAction?: boolean; binding?: OrthancBinding } = {}): () => void {
    const taken = this.registered.find((route) => route.pattern === pathRegex);
    if (taken) {
      const by = taken.owner === owner ? 'it already registered it' : `recipe ${taken.owner} registered it first`;
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: the route ${pathRegex} is registered twice (${by})`);
    }
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${pathRegex})$`);
    } catch (error) {
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: invalid route regular expression ${pathRegex}: ${describe(error)}`);
    }
    const route: RegisteredRoute = { owner, pattern: pathRegex, regex, callback, hostAction: options.hostAction === true, binding: options.binding };
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
    /** The host's connection: the caller's binding uses its pool with `caller`'s credentials. */
    connection: OrthancConnection;
    caller: CallerCredentials;
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
  const orthanc = createCallerBinding(options.connection.withCredentials(options.caller.headers, options.caller.names), route.binding);
  try {
    await route.callback(output, path, { method: request.method ?? 'GET', groups, get, headers, body, orthanc, callerId: options.caller.id });
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

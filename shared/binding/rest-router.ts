import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OrthancBinding } from './binding.js';
import { BindingError, describe } from './errors.js';
import type { RestOutput } from './rest-output.js';

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

/** How a route is served, declared when it is registered. */
export interface RouteOptions {
  /** Answered without credentials (health checks): the host asks Orthanc nothing for it. */
  public?: boolean;
  /**
   * A host action (a status page, a retry, a run now: something done with the host's own
   * rights): the front lets in only a caller whom Orthanc lets perform the host-action probe
   * (`HttpServer.HostActionProbe`, by default `GET /jobs`: an administrator).
   */
  hostAction?: boolean;
  /** The registering recipe's binding, whose registrations and logs the caller's binding shares (set by the binding). */
  binding?: OrthancBinding;
  /**
   * The largest request body the route accepts, in bytes; a larger one gets a 413 before any of
   * it is read or parsed. Default `defaultMaxBodyBytes` (1 MiB, ample for a JSON request); 0 for
   * a route that takes no body. The host's `MaxRecipeBodyMegabytes` caps every route's limit.
   */
  maxBodyBytes?: number;
  /** The host's stand-in for a route of a recipe not set up yet (a 503 while it waits); set by the host. */
  reservation?: boolean;
}

export interface RegisteredRoute {
  owner: string;
  pattern: string;
  regex: RegExp;
  callback: RestCallback;
  /** A host action: let in only callers who pass the host-action probe (see the front). */
  hostAction: boolean;
  /** The registering recipe's binding, whose registrations and logs the caller's binding shares. */
  binding?: OrthancBinding;
  /** See `RouteOptions.public`. */
  public: boolean;
  /** The largest request body this route reads, as its recipe declared it (see `RouteOptions`). */
  maxBodyBytes: number;
  /** See `RouteOptions.reservation`. */
  reservation: boolean;
}

/** A route's body limit when its recipe declares none: 1 MiB, for JSON. */
export const defaultMaxBodyBytes = 2 ** 20;

/**
 * The routes registered by `registerRestCallback`, matched in registration order against the
 * whole decoded path, as Orthanc matches its plugins' regular expressions. Serving them is the
 * host's (host/recipe-route.ts); the binding only registers and matches.
 */
export class RestRouter {
  private readonly registered: RegisteredRoute[] = [];

  /**
   * Adds a route. The same pattern twice (from two owners, or twice from one) throws
   * (`ORC_ERR_BAD_ROUTE`): the first would win silently and the second never answer.
   */
  register(owner: string, pathRegex: string, callback: RestCallback, options: RouteOptions = {}): () => void {
    // A waiting recipe's 503 answers (`reservation`) stand in for its routes until it is set up.
    const taken = options.reservation ? undefined : this.registered.find((route) => route.pattern === pathRegex && !route.reservation);
    if (taken) {
      const by = taken.owner === owner ? 'it already registered it' : `recipe ${taken.owner} registered it first`;
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: the route ${pathRegex} is registered twice (${by})`);
    }
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
    const route: RegisteredRoute = {
      owner,
      pattern: pathRegex,
      regex,
      callback,
      public: options.public === true,
      hostAction: options.hostAction === true,
      binding: options.binding,
      maxBodyBytes,
      reservation: options.reservation === true,
    };
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

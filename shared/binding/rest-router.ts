import type { ServerResponse } from 'node:http';
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
}

/**
 * The routes registered by `registerRestCallback`, matched in registration order against the
 * whole decoded path, as Orthanc matches its plugins' regular expressions. Serving them is the
 * host's (shared/host/recipe-route.ts); the binding only registers and matches.
 */
export class RestRouter {
  private readonly registered: RegisteredRoute[] = [];

  register(owner: string, pathRegex: string, callback: RestCallback, options: RouteOptions = {}): () => void {
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${pathRegex})$`);
    } catch (error) {
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: invalid route regular expression ${pathRegex}: ${describe(error)}`);
    }
    const route: RegisteredRoute = { owner, pattern: pathRegex, regex, callback, public: options.public === true, hostAction: options.hostAction === true, binding: options.binding };
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

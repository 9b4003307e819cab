import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OrthancBinding } from './binding.js';
import { defaultErrorCode, sendError } from './error-body.js';
import { BindingError, describe } from './errors.js';
import type { RestOutput } from './rest-output.js';

/** What a REST callback receives besides the output and the URI, as in the Python plugin. */
export interface RestRequest {
  /** `"GET"`, `"POST"`, `"PUT"`, `"DELETE"`, … */
  method: string;
  /** The regular expression's capture groups. */
  groups: string[];
  /**
   * The query string's arguments (the last value of a repeated one, as Orthanc's core reads
   * them). `output.passThrough()` sends the query string on as it came, every repeat in order.
   */
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
  /**
   * The methods the route serves (`['GET']`, `['GET', 'POST']`), upper case. The host answers
   * any other with 405, an `Allow` header listing exactly these (`GET,POST`, as Orthanc writes
   * it) and the JSON error body, before any of the body is read: the callback never sees them.
   * `HEAD` is not implied by `GET` (Orthanc itself serves no HEAD: it answers 404); a route that
   * answers HEAD lists it. Without `methods`, the callback sees every method (the behaviour
   * before methods could be declared; external recipes rely on it) and checks them itself.
   */
  methods?: readonly string[];
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
  /** The methods served (see `RouteOptions.methods`); undefined: every method reaches the callback. */
  methods: readonly string[] | undefined;
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
      throw new BindingError(
        'ORC_ERR_BAD_ROUTE',
        `recipe ${owner}: route ${pathRegex}: maxBodyBytes must be an integer ≥ 0, not ${String(options.maxBodyBytes)}`,
      );
    }
    const methods = options.methods === undefined ? undefined : checkedMethods(owner, pathRegex, options.methods);
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${pathRegex})$`);
    } catch (error) {
      throw new BindingError('ORC_ERR_BAD_ROUTE', `recipe ${owner}: invalid route regular expression ${pathRegex}: ${describe(error)}`);
    }
    const route: RegisteredRoute = {
      owner,
      pattern: pathRegex,
      methods,
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

/** Sends the one JSON error shape (see error-body.ts): `code` defaults to the status's (`defaultErrorCode`). */
export function sendJsonError(
  response: ServerResponse,
  status: number,
  message: string,
  details: Record<string, unknown> = {},
  code = defaultErrorCode(status),
): void {
  sendError(response, { status, code, message, details });
}

/** A method token as RFC 9110 writes one: `GET`, `POST`, `PROPFIND`... */
const methodToken = /^[!#$%&'*+.^_`|~0-9A-Z-]+$/;

/** The declared methods, checked (upper-case tokens, at least one) and without repeats. */
function checkedMethods(owner: string, pattern: string, methods: readonly string[]): readonly string[] {
  if (
    !Array.isArray(methods) ||
    methods.length === 0 ||
    !methods.every((method) => typeof method === 'string' && methodToken.test(method))
  ) {
    throw new BindingError(
      'ORC_ERR_BAD_ROUTE',
      `recipe ${owner}: route ${pattern}: methods must be a non-empty list of upper-case methods such as ["GET"], not ${JSON.stringify(methods)}`,
    );
  }
  return Object.freeze([...new Set<string>(methods)]);
}

/** The `Allow` header of a route that declares its methods, as Orthanc writes it: `GET,POST`. */
export const allowHeader = (route: Pick<RegisteredRoute, 'methods'>): string | undefined => route.methods?.join(',');

/** Whether the route serves `method` (every method when it declares none). */
export const servesMethod = (route: Pick<RegisteredRoute, 'methods'>, method: string): boolean =>
  route.methods === undefined || route.methods.includes(method);

/**
 * Why a request's body is refused before any of it is read: it announces more bytes than `limit`
 * (a chunked body is counted as it arrives, by `readBody`). Undefined when it may be read.
 */
export function refuseBodyByLength(headers: IncomingMessage['headers'], limit: number): string | undefined {
  if (headers['transfer-encoding'] !== undefined) return limit === 0 ? 'this route takes no request body' : undefined;
  const length = Number(headers['content-length'] ?? 0);
  if (!(length > limit)) return undefined;
  return limit === 0
    ? 'this route takes no request body'
    : `request body of ${length} bytes, larger than this route's limit of ${limit} bytes`;
}

/** A route's body limit: what its recipe declared, within the host's ceiling. */
export const bodyLimitOf = (route: RegisteredRoute, hostCeiling: number) => Math.min(route.maxBodyBytes, hostCeiling);

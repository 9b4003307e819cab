import { createHash } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import {
  RequestFilters,
  callerCredentials,
  decodePath,
  defaultErrorCode,
  describe,
  errorBody,
  renamed,
  sendJsonError,
  type Logger,
  type OrthancConnection,
  type RegisteredRoute,
  type RestRouter,
} from '../shared/binding/index.js';
import { logAccessWhenDone, pathForLog } from './access-log.js';
import { closeWithoutReset, drainAfterAnswer, isClosing, lingerThenClose, markClosing, prepareEarlyAnswer } from './early-answer.js';
import { crossSiteRefusal } from './cross-site.js';
import { TrustedProxies, addressUsed } from './forwarded.js';
import { createHttpServer, hasTooManyHeaderLines, maxHeaderLines, type ServerLimits } from './node-http.js';
import { proxyToOrthanc } from './proxy.js';
import { serveRecipeRoute } from './recipe-route.js';
import { HostActionGate } from './caller-access.js';
import { runFilterStep } from './request-filter-step.js';

export interface FrontOptions {
  connection: OrthancConnection;
  router: RestRouter;
  log: Logger;
  maxRecipeBodyBytes: number;
  /**
   * The largest request body still to come after an early answer (a 401 challenge, say) that is
   * read and dropped so the connection serves the client's next request; a larger one gets
   * `Connection: close`. Default 64 MiB.
   */
  drainLimitBytes?: number;
  /** Proxies in front whose `Forwarded`/`X-Forwarded-*` headers are kept (appended to). */
  trustedProxies?: readonly string[];
  /** Origins whose pages may send state-changing requests (see cross-site.ts). */
  allowedOrigins?: readonly string[];
  /** Timeouts and the connection cap; `defaultLimits` for what is not given. */
  limits?: Partial<FrontLimits>;
  /** When it gives a reason, every request is answered 503 with it (see RemoteAccessGuard). */
  gate?: { readonly refusal: string | undefined };
  /** The incoming-request filters that recipes register; every request passes them first. */
  filters?: RequestFilters;
  /** Headers besides `Authorization` carrying a caller's credentials (`HttpServer.ForwardedAuthHeaders`). */
  forwardedAuthHeaders?: readonly string[];
  /** Decides host actions; by default the probe `GET /jobs`, kept 10 s. */
  hostActions?: HostActionGate;
  /** Answers a request before the gate and without credentials (the health probes); true when it did. */
  answerFirst?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
  /** Called as each request arrives (request metrics, see request-metrics.ts). */
  observe?: (request: IncomingMessage, response: ServerResponse) => void;
}

export interface FrontLimits extends ServerLimits {
  /** Longest silence between two chunks of a request body (inactivity, not total time). */
  bodyIdleTimeoutMs: number;
}

/** HttpServer's defaults in host-schema.json. */
export const defaultLimits: FrontLimits = {
  headTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  bodyIdleTimeoutMs: 60_000,
  maxConnections: 1000,
};

/** How long a burst of refused connections lasts before a new one is logged again. */
const dropBurstMs = 10_000;

/** The default `drainLimitBytes`. */
export const defaultDrainLimitBytes = 64 * 2 ** 20;

/**
 * The host's HTTP server: one pipeline per request, read top to bottom in `pipeline`:
 * accept (in flight, body silence, access log) → limits → gate → target → cross-site →
 * authorize → the recipe's handler or the proxy to Orthanc → answer, and drop what is left of
 * the body (early-answer.ts) → access log. Connection limits and timeouts are Node's server's
 * (node-http.ts, the one place that depends on Node's internals).
 *
 * Registered routes go to their recipe; every other request is proxied to Orthanc as it is,
 * streamed both ways. It is as forgiving as Orthanc: an `Expect` it does not know is ignored, the
 * rest of a body answered early is read and dropped so the connection carries on, and what it
 * cannot parse gets a JSON 4xx and a warning.
 */
export class HttpFront {
  readonly server: Server;
  private readonly authorizations = new LRUCache<string, Authorization>({ max: 1000, ttl: 10_000 });
  private readonly drainLimitBytes: number;
  private readonly trusted: TrustedProxies;
  private readonly allowedOrigins: ReadonlySet<string>;
  /** Answers not yet finished, per connection: an error answer waits for them (pipelining). */
  private readonly pending = new WeakMap<Socket, Set<ServerResponse>>();
  private inFlightCount = 0;
  /** At `debug`: one line per request, see access-log.ts. */
  private readonly accessLog: Logger | undefined;
  private readonly bodyIdleTimeoutMs: number;
  /** Connections refused over `maxConnections` since the warning that opened this burst. */
  private dropBurst: { count: number } | undefined;
  private readonly filters: RequestFilters;
  private readonly hostActions: HostActionGate;

  constructor(private readonly options: FrontOptions) {
    this.filters = options.filters ?? new RequestFilters();
    this.hostActions = options.hostActions ?? new HostActionGate(options.connection, {}, options.forwardedAuthHeaders ?? [], options.log);
    // The access log is written at `debug`: below that level no request pays for it.
    this.accessLog = options.log.isEnabled?.('debug') === false ? undefined : renamed(options.log, 'access');
    this.drainLimitBytes = options.drainLimitBytes ?? defaultDrainLimitBytes;
    this.trusted = new TrustedProxies(options.trustedProxies ?? []);
    this.allowedOrigins = new Set(options.allowedOrigins ?? []);
    const limits = { ...defaultLimits, ...options.limits };
    this.bodyIdleTimeoutMs = limits.bodyIdleTimeoutMs;
    this.server = createHttpServer(limits, {
      request: (request, response, expectsContinue) => this.accept(request, response, expectsContinue),
      clientError: (error, socket) => this.refuseUnparsable(error, socket),
      drop: () => this.connectionDropped(limits.maxConnections),
    });
  }

  /** Requests being answered (proxied, or served by a recipe). */
  get inFlight(): number {
    return this.inFlightCount;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then closes every connection. */
  async close(graceMs = 10_000): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.inFlightCount > 0 && Date.now() < deadline) await sleep(25);
    this.server.closeAllConnections();
    await closed;
  }

  /**
   * accept: a request whose head is in. Counts it in flight, arranges what follows its answer
   * (drop the rest of its body, the access log) and bounds the silence inside its body, then runs
   * it down the pipeline. Nothing a request does can throw out of here.
   */
  private accept(request: IncomingMessage, response: ServerResponse, expectsContinue: boolean): void {
    const socket = request.socket;
    if (isClosing(socket)) {
      // Sent after a `Connection: close` answer: read and dropped, as the client was told.
      request.resume();
      return;
    }
    const exchange: Exchange = { request, response, expectsContinue, route: undefined, proxied: false };
    this.inFlightCount += 1;
    this.options.observe?.(request, response);
    if (this.accessLog) logAccessWhenDone(request, response, this.accessLog, () => exchange);
    let pending = this.pending.get(socket);
    if (!pending) this.pending.set(socket, (pending = new Set()));
    pending.add(response);
    response.once('close', () => {
      this.inFlightCount -= 1;
      pending.delete(response);
    });
    response.once('finish', () => drainAfterAnswer(request, this.drainLimitBytes));
    if (!request.complete && hasBody(request)) this.boundBodySilence(request);
    this.pipeline(exchange).catch((error: unknown) => {
      this.options.log.error(`${request.method} ${pathForLog(request.url)} failed: ${describe(error)}`);
      this.answerError(request, response, 500, 'the host failed to answer; its log says why');
    });
  }

  /**
   * One request's way through the front, top to bottom. Each step either lets the request go on
   * or answers it and stops it; no step calls back into an earlier one.
   */
  private async pipeline(exchange: Exchange): Promise<void> {
    if (!this.withinLimits(exchange)) return;
    if (await this.options.answerFirst?.(exchange.request, exchange.response)) return; // the health probes, without credentials
    if (!this.passesGate(exchange)) return;
    const target = this.target(exchange);
    if (target === undefined) return;
    if (!this.notCrossSite(exchange)) return;
    if (!(await this.passesFilters(exchange, target))) return;
    if (!(await this.authorize(exchange, target))) return;
    if (target.match) return this.serveRecipe(exchange, target.match, target.path!);
    exchange.proxied = true;
    return proxyToOrthanc(
      this.options.connection,
      exchange.request,
      exchange.response,
      this.options.log,
      this.drainLimitBytes,
      this.trusted,
    );
  }

  /** limits: what Node could not represent faithfully (more header lines than it keeps). */
  private withinLimits({ request, response }: Exchange): boolean {
    if (!hasTooManyHeaderLines(request)) return true;
    // Node keeps only the first 1,000 in `request.headers` (Transfer-Encoding may be lost while
    // the body is still decoded): the request cannot be read as sent, nor the connection reused.
    response.setHeader('connection', 'close');
    this.refuse(request, response, 431, `more than ${maxHeaderLines} header lines`);
    return false;
  }

  /** gate: while the remote-access guard has a reason (Orthanc away or open), everything gets 503. */
  private passesGate({ request, response }: Exchange): boolean {
    const refusal = this.options.gate?.refusal;
    if (refusal === undefined) return true;
    // The guard has logged why at warning (or error) once; one line per request would flood.
    this.options.log.debug(`refused ${request.method} ${pathForLog(request.url)} with 503: ${refusal}`);
    this.answerError(request, response, 503, refusal);
    return false;
  }

  /**
   * target: the request target must be a path. Its decoded form picks a recipe route, unless it
   * has a `.` or `..` segment (then Orthanc resolves it); anything else, or an undecodable path,
   * goes to Orthanc as it is.
   */
  private target(exchange: Exchange): Target | undefined {
    const { request, response } = exchange;
    const rawUrl = request.url ?? '/';
    if (!rawUrl.startsWith('/')) {
      // An absolute URL (`GET http://host/system`) or `OPTIONS *`: Orthanc closes the connection
      // without an answer.
      // The target itself is not repeated: an absolute URL may carry credentials and patient data.
      this.refuse(request, response, 400, 'the request target must be a path starting with "/" (absolute URLs and "*" are not served)');
      return undefined;
    }
    const queryAt = rawUrl.indexOf('?');
    const path = decodePath(queryAt >= 0 ? rawUrl.slice(0, queryAt) : rawUrl);
    const match = path !== undefined && !hasDotSegment(path) ? this.options.router.match(path) : undefined;
    exchange.route = match?.route;
    return { path, match };
  }

  /** cross-site: a state-changing request from another site's page gets 403 (see cross-site.ts). */
  private notCrossSite({ request, response }: Exchange): boolean {
    const forwardedHost = this.trusted.includes(request.socket.remoteAddress) ? addressUsed(request, true).host : undefined;
    const refusal = crossSiteRefusal(request, this.allowedOrigins, forwardedHost);
    if (refusal === undefined) return true;
    this.options.log.debug(
      `refused ${request.method} ${pathForLog(request.url)} from ${request.socket.remoteAddress} with 403: ${refusal}`,
    );
    this.answerError(request, response, 403, refusal, 'cross-site-refused');
    return false;
  }

  /**
   * filters: every incoming-request filter a recipe registered must let the request in, proxied or
   * not (see request-filter-step.ts); credentials Orthanc refuses get its challenge first.
   */
  private async passesFilters({ request, response }: Exchange, { path }: Target): Promise<boolean> {
    if (this.filters.size === 0) return true;
    const filtered = await runFilterStep(this.filters, request, path, (header) => this.isAuthorized(header));
    if ('challenge' in filtered) {
      this.challenge(request, response, filtered.challenge);
      return false;
    }
    if (filtered.allowed) return true;
    this.options.log.debug(`refused ${request.method} ${pathForLog(request.url)} with 403: recipe ${filtered.owner}: ${filtered.reason}`);
    this.answerError(request, response, 403, `refused by an incoming request filter (recipe ${filtered.owner})`, 'refused-by-filter');
    return false;
  }

  /**
   * authorize: Orthanc decides who may use a recipe route (see `isAuthorized`); a route declared
   * `public` needs no credentials. A proxied request is Orthanc's to refuse, except for
   * `Expect: 100-continue`: Orthanc never sends `100 Continue` (clients wait about 1 s, then upload
   * anyway) and answers a request without valid credentials before reading its body. The host
   * sends `100 Continue` at once, unless Orthanc refuses these credentials: then the client gets
   * Orthanc's Basic challenge before it has uploaded anything, as from Orthanc itself.
   */
  private async authorize({ request, response, expectsContinue }: Exchange, { match }: Target): Promise<boolean> {
    if (match?.route.public) {
      if (expectsContinue) response.writeContinue();
      return true;
    }
    if (!match && !expectsContinue) return true;
    const authorization = await this.isAuthorized(request.headers.authorization);
    if (!match) {
      if (authorization?.challenge !== undefined) {
        this.challenge(request, response, authorization.challenge);
        return false;
      }
      // A doubt (Orthanc failing) is left to Orthanc to answer when the body comes.
      if (authorization?.allowed !== false) response.writeContinue();
      return true;
    }
    if (authorization === undefined) {
      this.answerError(
        request,
        response,
        503,
        'Orthanc did not confirm these credentials (it is unreachable or failing), so the request is refused',
        'credentials-unconfirmed',
      );
      return false;
    }
    if (!authorization.allowed) {
      this.challenge(request, response, authorization.challenge ?? 'Basic realm="Orthanc Secure Area"');
      return false;
    }
    if (match.route.hostAction) {
      // A host action: only a caller whom Orthanc lets perform the probe (an administrator).
      const verdict = await this.hostActions.check(request);
      if (!verdict.allowed) {
        if (verdict.status === 401) this.challenge(request, response, verdict.challenge);
        else this.answerError(request, response, verdict.status, verdict.message);
        return false;
      }
    }
    if (expectsContinue) response.writeContinue();
    return true;
  }

  /** recipe: the route's handler, with the body read up to MaxRecipeBodyMegabytes. */
  private serveRecipe({ request, response }: Exchange, match: RouteMatch, path: string): Promise<void> {
    return serveRecipeRoute(match.route, match.groups, path, request, response, {
      log: this.options.log,
      connection: this.options.connection,
      caller: callerCredentials(request.headers, this.options.forwardedAuthHeaders),
      maxBodyBytes: this.options.maxRecipeBodyBytes,
      beforeEarlyAnswer: () => prepareEarlyAnswer(request, response, this.drainLimitBytes),
      // output.passThrough(): the same proxy as for any request not served by a recipe.
      passThrough: (body) =>
        proxyToOrthanc(this.options.connection, request, response, this.options.log, this.drainLimitBytes, this.trusted, body),
    });
  }

  /**
   * Closes the connection when its request body goes silent for `bodyIdleTimeoutMs`: a body sent
   * a byte now and then would hold a connection (and Orthanc's upload) for ever. Only silence
   * while the host is reading counts: not while it has not started (a credentials check), nor
   * while it holds the body back (Orthanc reads slowly: back-pressure). Progress is read from the
   * socket's byte count (a listener on the request would start the body flowing), checked every
   * quarter of the bound.
   */
  private boundBodySilence(request: IncomingMessage): void {
    const socket = request.socket;
    let bytes = socket.bytesRead;
    let progressAt = performance.now();
    const timer = setInterval(() => {
      if (request.complete || request.destroyed) return clearInterval(timer);
      const waitingForHost = request.readableFlowing !== true || request.readableLength > 0;
      if (socket.bytesRead !== bytes || waitingForHost) {
        bytes = socket.bytesRead;
        progressAt = performance.now();
        return;
      }
      if (performance.now() - progressAt < this.bodyIdleTimeoutMs) return;
      clearInterval(timer);
      this.options.log.warning(
        `closed the connection of ${socket.remoteAddress}: its ${request.method} ${pathForLog(request.url)} body was silent for ${this.bodyIdleTimeoutMs / 1000} s`,
      );
      socket.destroy();
    }, this.bodyIdleTimeoutMs / 4).unref();
    request.once('close', () => clearInterval(timer));
  }

  /** Logs refused connections once per burst: a warning, then how many more at the burst's end. */
  private connectionDropped(maxConnections: number): void {
    if (this.dropBurst) {
      this.dropBurst.count += 1;
      return;
    }
    const burst = (this.dropBurst = { count: 0 });
    this.options.log.warning(`refusing new connections: ${maxConnections} are open (HttpServer.MaxConnections)`);
    setTimeout(() => {
      this.dropBurst = undefined;
      if (burst.count > 0)
        this.options.log.warning(
          `refused ${burst.count} more connections in ${dropBurstMs / 1000} s (HttpServer.MaxConnections ${maxConnections})`,
        );
    }, dropBurstMs).unref();
  }

  /** A 401 like Orthanc's own (no body); the rest of the request body, if any, is dropped after it. */
  private challenge(request: IncomingMessage, response: ServerResponse, challenge: string): void {
    prepareEarlyAnswer(request, response, this.drainLimitBytes);
    response.writeHead(401, { 'www-authenticate': challenge, 'content-length': 0 });
    response.end();
  }

  /** A JSON error answer; the rest of the request body, if any, is dropped after it. */
  private answerError(request: IncomingMessage, response: ServerResponse, status: number, message: string, code?: string): void {
    prepareEarlyAnswer(request, response, this.drainLimitBytes);
    sendJsonError(response, status, message, {}, code);
  }

  /** A request refused before Orthanc sees it: a JSON 4xx/5xx, and a warning saying why. */
  private refuse(request: IncomingMessage, response: ServerResponse, status: number, reason: string): void {
    this.options.log.warning(
      `refused ${request.method} ${pathForLog(request.url)} from ${request.socket.remoteAddress} with ${status}: ${reason}`,
    );
    this.answerError(request, response, status, reason);
  }

  /**
   * Node could not parse a request (bad syntax, a head over 16 KiB, a malformed Content-Length…).
   * Orthanc answers these with a 4xx and closes; so does the host, with a JSON body, once the
   * answers to the requests before it on the connection are out.
   */
  private refuseUnparsable(error: NodeJS.ErrnoException, socket: Socket): void {
    if (isClosing(socket)) return;
    if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
      this.options.log.debug(`a client at ${socket.remoteAddress} went away in the middle of a request (${error.code ?? error.message})`);
      socket.destroy();
      return;
    }
    const pending = [...(this.pending.get(socket) ?? [])].filter((response) => !response.writableFinished);
    if (pending.some((response) => !response.req.complete)) {
      // The error lies inside a body still being read (a bad chunk size): that request cannot end.
      this.options.log.warning(
        `closed the connection of ${socket.remoteAddress}: unparsable request body (${error.code ?? error.message})`,
      );
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'the request line and headers exceed 16 KiB'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? `no complete request head within ${this.server.headersTimeout / 1000} s`
          : `unparsable request: ${error.message.replace(/^Parse Error: /, '')}`;
    // A head that never came is routine (idle connections); a flood of them would flood the log.
    const level = status === 408 ? 'debug' : 'warning';
    this.options.log[level](`refused a request from ${socket.remoteAddress} with ${status}: ${reason} (${error.code ?? 'no code'})`);
    markClosing(socket);
    closeWithoutReset(socket);
    const send = () => {
      if (!socket.writable) return void socket.destroy();
      const body = `${JSON.stringify(errorBody({ status, code: defaultErrorCode(status), message: reason }), null, 2)}\n`;
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      lingerThenClose(socket);
    };
    if (pending.length === 0) return send();
    Promise.all(pending.map((response) => new Promise((resolve) => response.once('close', resolve)))).then(send, send);
  }

  /**
   * Whether Orthanc lets this Authorization header (or its absence) in, asked with `GET /system`.
   * Fails closed: only a 2xx lets in; a 401 or 403 refuses (and is remembered for 10 s, as a
   * 2xx is); anything else (a 5xx, a 502 from something in between, a timeout, a connection
   * error) is a doubt: undefined, never cached, and the caller answers 503.
   */
  private async isAuthorized(header: string | undefined): Promise<Authorization | undefined> {
    const key = header ? createHash('sha256').update(header).digest('base64') : '';
    const cached = this.authorizations.get(key);
    if (cached !== undefined) return cached;
    const { connection } = this.options;
    try {
      const answer = await connection.pool.request({
        path: `${connection.basePath}/system`,
        method: 'GET',
        headers: header ? { authorization: header } : {},
      });
      await answer.body.dump();
      const status = answer.statusCode;
      if (status >= 200 && status < 300) return this.remember(key, { allowed: true, challenge: undefined });
      if (status !== 401 && status !== 403) return undefined;
      const challenge = answer.headers['www-authenticate'];
      // Orthanc's own Basic authentication refuses on every path alike; a 403 (an
      // authorization plugin) may depend on the path, so it is not replayed.
      return this.remember(key, { allowed: false, challenge: status === 401 && typeof challenge === 'string' ? challenge : undefined });
    } catch {
      return undefined;
    }
  }

  private remember(key: string, authorization: Authorization): Authorization {
    this.authorizations.set(key, authorization);
    return authorization;
  }
}

/** Whether a request announces a body (a length other than 0, or a transfer coding). */
function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Whether a decoded path has a `.` or `..` segment (`/instances/%2e%2e/dcmjs`). Such a path never
 * reaches a recipe: a handler would pass the segment on to Orthanc (`/instances/..` is `/`), so
 * it goes to Orthanc as it is, which resolves it and answers as for any unknown resource.
 */
export function hasDotSegment(path: string): boolean {
  return /\/\.\.?(?:\/|$)/.test(path);
}

/** A request on its way through the pipeline, and what the access log reports of it. */
interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
  expectsContinue: boolean;
  /** The recipe route chosen by the target step. */
  route: RegisteredRoute | undefined;
  /** Whether it was passed to Orthanc. */
  proxied: boolean;
}

type RouteMatch = { route: RegisteredRoute; groups: string[] };

/** What the target step found: the decoded path (undefined if undecodable) and the recipe route, if any. */
interface Target {
  path: string | undefined;
  match: RouteMatch | undefined;
}

interface Authorization {
  allowed: boolean;
  /** Orthanc's `WWW-Authenticate` when it answered 401. */
  challenge: string | undefined;
}

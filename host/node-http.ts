/**
 * The one seam between the front and what Node's HTTP server does on its own. Everything here
 * depends on Node's behaviour beyond its documented API, or on options whose defaults hide a trap;
 * test/node-http-seam.test.ts checks each point on the Node that runs the suite (20, 22, 24 in CI),
 * so that a Node release that changes one shows there first.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ServerLimits {
  /** Longest time to receive a request's head, from the connection's start or the next request's first byte. */
  headTimeoutMs: number;
  /** Longest idle time of a keep-alive connection between two requests. */
  keepAliveTimeoutMs: number;
  /** Concurrent connections; more are closed at once (see `onDrop`). */
  maxConnections: number;
}

export interface ServerHandlers {
  /** A request whose head is in; `expectsContinue` when it asked for `100 Continue`. */
  request(request: IncomingMessage, response: ServerResponse, expectsContinue: boolean): void;
  /** What Node could not parse, or a head that took too long (`ERR_HTTP_REQUEST_TIMEOUT`). */
  clientError(error: NodeJS.ErrnoException, socket: Socket): void;
  /** A connection closed at once because `maxConnections` are open. */
  drop(): void;
}

/**
 * Node's HTTP server with the front's limits:
 * - `requestTimeout: 0`: no bound on a whole request (a 2 GB upload over a slow link must work);
 *   the front bounds the silence inside a body instead. Node then also turns `headersTimeout`
 *   off unless it is given explicitly, so it is: a connection that sends nothing, or a header
 *   line now and then, is closed after `headTimeoutMs` (checked every `connectionsCheckingInterval`).
 * - An `Expect` Node does not know is ignored, as Orthanc does (Node would answer 417), and
 *   `100 Continue` is left to the front (Node would send it at once).
 * - `maxConnections`: Node closes a connection over the cap before reading it and emits `drop`.
 */
export function createHttpServer(limits: ServerLimits, handlers: ServerHandlers): Server {
  const server = createServer({
    requestTimeout: 0,
    headersTimeout: limits.headTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(limits.headTimeoutMs / 4))),
  });
  server.maxConnections = limits.maxConnections;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => handlers.request(request, response, false));
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => handlers.request(request, response, false));
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => handlers.request(request, response, true));
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => handlers.clientError(error, socket));
  server.on('drop', () => handlers.drop());
  return server;
}

/**
 * The most header lines a request may have: Node keeps no more than 1,000 (`maxHeadersCount`,
 * counted in names and values) in `request.headers`, and drops the rest, `Transfer-Encoding`
 * included, while its parser still decodes the body as chunked.
 */
export const maxHeaderLines = 1000;

/** Whether Node may have left some of this request's headers out of `request.headers`. */
export function hasTooManyHeaderLines(request: IncomingMessage): boolean {
  return request.rawHeaders.length > 2 * maxHeaderLines;
}

/**
 * Makes Node close this connection with `close` instead of its own `destroySoon` once the current
 * answer is written (after `Connection: close`, or an answer to `Expect: 100-continue` sent without
 * `100 Continue`). Node's own close leaves the client's unread upload in the receive buffer and
 * the kernel then resets the connection, which makes the client lose the answer.
 */
export function replaceDestroySoon(socket: Socket, close: () => void): void {
  socket.destroySoon = close;
}

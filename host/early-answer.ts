import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { replaceDestroySoon } from './node-http.js';

/**
 * After a `Connection: close` answer, how long the host keeps reading what the client still sends:
 * until 5 s pass with nothing (2 s, as Apache's lingering close, proved too short for a client on a
 * loaded machine: CI saw an 80 MB upload pause that long), or 30 s in all.
 */
const lingerIdleMs = 5_000;
const lingerTotalMs = 30_000;

const lingerMarker = () => undefined;

/** Marks a connection being closed after an answer: what it still carries is read and dropped, never answered. */
const closingMark = Symbol('orthanc-recipes.closing');

type MarkedSocket = Socket & { [closingMark]?: true };

export function isClosing(socket: Socket): boolean {
  return (socket as MarkedSocket)[closingMark] === true;
}

/**
 * Call before answering a request whose body may still be arriving (a 401 challenge, a 413, an
 * answer Orthanc gave before reading the whole upload). Orthanc reads and drops the rest of the
 * body and keeps the connection, so the client's next request (its authenticated retry) is
 * served. The host does the same (see `drainAfterAnswer`) up to `drainLimitBytes`: a larger
 * announced body gets `Connection: close`, and a longer chunked one a close without reset.
 */
export function prepareEarlyAnswer(request: IncomingMessage, response: ServerResponse, drainLimitBytes: number): void {
  if (request.complete || response.headersSent) return;
  const length = request.headers['transfer-encoding'] === undefined ? Number(request.headers['content-length'] ?? 0) : 0;
  // Node itself closes after an answer to `Expect: 100-continue` sent without `100 Continue`.
  closeWithoutReset(request.socket);
  if (length > drainLimitBytes) response.setHeader('connection', 'close');
}

/**
 * Call once the answer is sent: the rest of an unread body is read and dropped, so that the
 * connection can carry the next request. Whoever was reading it (the proxy's upload to Orthanc,
 * a recipe's body reader) has stopped.
 */
export function drainAfterAnswer(request: IncomingMessage, drainLimitBytes: number): void {
  if (request.complete || request.destroyed) return;
  request.unpipe();
  let dropped = 0;
  const count = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped <= drainLimitBytes) return;
    request.off('data', count);
    lingerThenClose(request.socket);
  };
  request.on('data', count);
  request.resume();
}

/**
 * Makes Node close this connection the way lingering servers do, once its current answer is
 * written: FIN first, then read and drop what the client still sends until it closes its side,
 * goes quiet for 5 s, or 30 s pass. Node's own close (`destroySoon`) closes the socket with the
 * client's unread upload in the receive buffer, and the kernel then sends a reset, which makes the
 * client lose the answer it has not read yet.
 */
export function closeWithoutReset(socket: Socket): void {
  replaceDestroySoon(socket, () => lingerThenClose(socket));
}

/** Marks a connection as closing: requests still parsed on it are not answered. */
export function markClosing(socket: Socket): void {
  (socket as MarkedSocket)[closingMark] = true;
}

/** Sends FIN now, then closes as `closeWithoutReset` describes. */
export function lingerThenClose(socket: Socket): void {
  if (socket.destroyed || socket.listeners('end').includes(lingerMarker)) return;
  markClosing(socket);
  socket.once('end', lingerMarker);
  socket.end();
  let idle: NodeJS.Timeout | undefined;
  const close = () => {
    clearTimeout(idle);
    clearTimeout(total);
    socket.destroy();
  };
  const total = setTimeout(close, lingerTotalMs);
  const quiet = () => {
    clearTimeout(idle);
    idle = setTimeout(close, lingerIdleMs);
  };
  quiet();
  socket.on('data', quiet);
  socket.once('end', close);
  socket.once('close', close);
  socket.resume();
}

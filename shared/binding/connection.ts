import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Pool, buildConnector } from 'undici';
import { OrthancHttpError, OrthancUnreachableError, type OrthancErrorDetails } from './errors.js';

export interface ConnectionOptions {
  /** Orthanc's base URL, e.g. `http://127.0.0.1:8042` or `https://pacs.example/orthanc`. */
  url: string;
  /** HTTP Basic credentials, when Orthanc's `AuthenticationEnabled` is on. */
  username?: string;
  password?: string;
  /** Longest wait for Orthanc's answer headers, and between two body chunks. Default 60 s. */
  timeoutSeconds?: number;
  /** Most keep-alive connections opened to Orthanc at once. Default 32 (Orthanc has 50 HTTP threads). */
  connections?: number;
}

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Orthanc's POST routes that only read: sending one twice changes nothing. */
const readOnlyPosts = new Set(['/tools/find', '/tools/bulk-content', '/tools/lookup']);
const isReadOnly = (method: string, uri: string) => method.toUpperCase() === 'POST' && readOnlyPosts.has(uri.split('?')[0]!);
const staleConnectionCodes = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Whether a failed request may be sent once more on a new connection: Orthanc closes an idle
 * keep-alive connection after 1 s, and a request can leave on it just as it closes ("other side
 * closed"). Only an idempotent request with a body that can be replayed is sent again, and only
 * when nothing of the answer has arrived. (`OrthancConnection.send` also retries other methods
 * when the connection provably went stale before the request (see `neverReceived`), and
 * Orthanc's read-only POSTs (`/tools/find`, `/tools/bulk-content`, `/tools/lookup`) as GETs.)
 */
export function mayRetryOnNewConnection(method: string, error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return idempotentMethods.has(method.toUpperCase()) && typeof code === 'string' && staleConnectionCodes.has(code);
}

/** What is known of one connection to Orthanc: when an answer's bytes last arrived on it. */
interface SocketActivity {
  lastDataAt: number | undefined;
}

/** `Keep-Alive: timeout=N` (seconds) in milliseconds; undefined without one. */
export function keepAliveHintMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  const seconds = value === undefined ? undefined : /(?:^|[\s,])timeout=(\d+)/i.exec(value)?.[1];
  return seconds === undefined ? undefined : Number(seconds) * 1000;
}

/** What `restApiPost`/`restApiPut` accept: bytes and strings as they are, anything else as JSON. */
export type RestBody = string | Uint8Array | object;

export interface RawAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One keep-alive pool to one Orthanc, shared by every REST call of the recipes and by the proxy.
 * Orthanc 1.10 announces `Keep-Alive: timeout=1` and offers no setting to change it; undici
 * subtracts `keepAliveTimeoutThreshold` from that hint, so its default (1 s or more) would close
 * every connection after one request. 250 ms keeps connections alive for 750 ms.
 */
export class OrthancConnection {
  readonly url: string;
  readonly basePath: string;
  readonly pool: Pool;
  readonly authorization: string | undefined;
  /** The credential headers sent with every request, and the names they own (see `withCredentials`). */
  private credentials: { headers: Readonly<Record<string, string>>; names: ReadonlySet<string> };
  /** Per local port, the connections open now (and for a moment after they close). */
  private readonly activity = new Map<number, SocketActivity>();
  /**
   * The idle time after which Orthanc closes a connection, from its `Keep-Alive` header (an
   * object, so that views of this connection sharing its pool share it too).
   */
  private readonly serverKeepAlive: { ms: number | undefined } = { ms: undefined };

  constructor(options: ConnectionOptions) {
    const parsed = new URL(options.url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`Orthanc URL must be http or https: ${options.url}`);
    }
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.url = `${parsed.origin}${this.basePath}`;
    this.authorization =
      options.username !== undefined && options.username !== ''
        ? `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`
        : undefined;
    this.credentials = { headers: this.authorization ? { authorization: this.authorization } : {}, names: new Set(['authorization']) };
    const timeout = (options.timeoutSeconds ?? 60) * 1000;
    const connector = buildConnector({ timeout: Math.min(timeout, 10_000) });
    this.pool = new Pool(parsed.origin, {
      connect: (connectOptions, callback) =>
        connector(connectOptions, (error, socket) => {
          if (socket) this.watch(socket);
          (callback as (...args: unknown[]) => void)(error, socket);
        }),
      connections: options.connections ?? 32,
      keepAliveTimeoutThreshold: 250,
      keepAliveTimeout: 750,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  /**
   * The same Orthanc over the same keep-alive pool, calling with other credentials: `headers`
   * (names in lower case) are sent instead of the host's own, and a header of `names` that they
   * lack is not sent at all (nor taken from a call's own headers), so a caller without
   * credentials stays without. For requests made on behalf of a caller; never `close()` it (that
   * would close the shared pool).
   */
  withCredentials(headers: Record<string, string>, names: Iterable<string> = []): OrthancConnection {
    const view = Object.create(this) as OrthancConnection;
    const owned = new Set([
      'authorization',
      ...[...names].map((name) => name.toLowerCase()),
      ...Object.keys(headers).map((name) => name.toLowerCase()),
    ]);
    view.credentials = {
      headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
      names: owned,
    };
    return view;
  }

  /**
   * Notes when bytes arrive on a new connection (a 'readable' listener beside undici's, which
   * reads nothing itself), so that a failure on it can tell how long it had been idle.
   */
  private watch(socket: Socket): void {
    const record: SocketActivity = { lastDataAt: undefined };
    const port = () => socket.localPort;
    socket.on('readable', () => {
      if (socket.readableLength > 0) record.lastDataAt = performance.now();
    });
    socket.once('connect', () => {
      if (port() !== undefined) this.activity.set(port()!, record);
    });
    if (port() !== undefined) this.activity.set(port()!, record);
    socket.once('close', () => {
      const closedPort = port();
      // Kept a moment: the request that failed on this connection looks it up after the close.
      if (closedPort !== undefined)
        setTimeout(() => this.activity.get(closedPort) === record && this.activity.delete(closedPort), 5_000).unref();
    });
  }

  /**
   * Whether a request sent at `sentAt` that failed with `error` provably never reached Orthanc:
   * the connection closed before any byte of the answer (undici's "other side closed"), and it
   * had been idle, with an answer read on it, for longer than Orthanc keeps an idle connection
   * (its `Keep-Alive: timeout`): Orthanc had closed it, or was closing it without reading more.
   * That happens when the event loop stalls past undici's own keep-alive timer.
   */
  neverReceived(error: unknown, sentAt: number): boolean {
    const failure = error as { code?: unknown; socket?: { localPort?: unknown } } | undefined;
    if (failure?.code !== 'UND_ERR_SOCKET' || typeof failure.socket?.localPort !== 'number') return false;
    const lastDataAt = this.activity.get(failure.socket.localPort)?.lastDataAt;
    const keepAliveMs = this.serverKeepAlive.ms;
    return keepAliveMs !== undefined && lastDataAt !== undefined && sentAt - lastDataAt >= keepAliveMs;
  }

  /**
   * `headers` with this connection's credentials instead of any of theirs: a caller's view
   * (`withCredentials`) sends the caller's, never the host's.
   */
  withCredentialHeaders(headers: Record<string, string> = {}): Record<string, string> {
    const merged: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) if (!this.credentials.names.has(name.toLowerCase())) merged[name] = value;
    return Object.assign(merged, this.credentials.headers);
  }

  /** Sends one request with this connection's credentials (the host's own by default) and reads the whole answer, whatever its status. */
  async send(method: string, uri: string, body?: RestBody, headers: Record<string, string> = {}): Promise<RawAnswer> {
    const { payload, contentType } = encodeBody(body);
    const requestHeaders = this.withCredentialHeaders(headers);
    if (contentType && !hasHeader(requestHeaders, 'content-type')) requestHeaders['content-type'] = contentType;
    // A connection Orthanc closed while the event loop was busy (a stall longer than undici's
    // keep-alive timer) still looks idle and usable until its end is read: let the loop read it
    // first (two turns: a poll phase lies between them), so that a request that cannot always be
    // sent again does not leave on it.
    if (!idempotentMethods.has(method.toUpperCase()) && !isReadOnly(method, uri)) {
      await nextTurn();
      await nextTurn();
    }
    for (let attempt = 1; ; attempt += 1) {
      let answered = false;
      const sentAt = performance.now();
      try {
        const answer = await this.pool.request({
          path: this.basePath + uri,
          method: method,
          headers: requestHeaders,
          body: payload ?? null,
        });
        answered = true;
        this.serverKeepAlive.ms = keepAliveHintMs(answer.headers['keep-alive']) ?? this.serverKeepAlive.ms;
        const buffer = await readWhole(answer.body, method.toUpperCase() === 'HEAD' ? undefined : answer.headers['content-length']);
        return { statusCode: answer.statusCode, headers: answer.headers, body: buffer };
      } catch (error) {
        // The payload is a string or bytes: replayable whatever the method.
        const replayable = mayRetryOnNewConnection(isReadOnly(method, uri) ? 'GET' : method, error);
        if (attempt === 1 && !answered && (replayable || this.neverReceived(error, sentAt))) continue;
        throw new OrthancUnreachableError(method, uri, error);
      }
    }
  }

  /** Like `send`, but a status outside 2xx throws an `OrthancHttpError` carrying Orthanc's details. */
  async call(method: string, uri: string, body?: RestBody, headers?: Record<string, string>): Promise<Buffer> {
    const answer = await this.send(method, uri, body, headers);
    if (answer.statusCode < 200 || answer.statusCode > 299) {
      throw new OrthancHttpError(method, uri, answer.statusCode, parseErrorDetails(answer.body));
    }
    return answer.body;
  }

  /**
   * GETs `uri` and resolves with its body as chunks that each own their ArrayBuffer (a status
   * outside 2xx throws an `OrthancHttpError`). A large file can then be moved to a worker thread
   * without the main thread ever writing it out in one piece: filling a fresh buffer of the
   * whole size costs a page fault per 4 KiB on the event loop, where chunk-sized buffers are
   * recycled by the allocator.
   */
  async getChunks(uri: string): Promise<Uint8Array<ArrayBuffer>[]> {
    // This connection's credentials: a caller's view (`withCredentials`) sends the caller's, never the host's.
    const headers = this.withCredentialHeaders();
    for (let attempt = 1; ; attempt += 1) {
      let answered = false;
      try {
        const answer = await this.pool.request({ path: this.basePath + uri, method: 'GET', headers });
        answered = true;
        if (answer.statusCode < 200 || answer.statusCode > 299) {
          throw new OrthancHttpError('GET', uri, answer.statusCode, parseErrorDetails(Buffer.from(await answer.body.arrayBuffer())));
        }
        const chunks: Uint8Array<ArrayBuffer>[] = [];
        // undici's chunks are views on the socket's buffers, which it may still read: copied.
        for await (const chunk of answer.body as AsyncIterable<Uint8Array>) chunks.push(new Uint8Array(chunk));
        return chunks;
      } catch (error) {
        if (error instanceof OrthancHttpError) throw error;
        if (attempt === 1 && !answered && mayRetryOnNewConnection('GET', error)) continue;
        throw new OrthancUnreachableError('GET', uri, error);
      }
    }
  }

  async callJson<T = unknown>(method: string, uri: string, body?: RestBody): Promise<T> {
    const answer = await this.call(method, uri, body);
    return (answer.length === 0 ? undefined : JSON.parse(answer.toString('utf8'))) as T;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * An answer's body as one Buffer that owns its whole ArrayBuffer (so that it can be moved to a
 * worker thread). With a Content-Length, the chunks are copied into it as they arrive, so that a
 * large file is never held twice (undici's `arrayBuffer()` keeps every chunk, then concatenates).
 */
async function readWhole(
  body: AsyncIterable<Uint8Array> & { arrayBuffer(): Promise<ArrayBuffer> },
  contentLength: string | string[] | undefined,
): Promise<Buffer> {
  const length = typeof contentLength === 'string' && /^\d{1,15}$/.test(contentLength) ? Number(contentLength) : undefined;
  if (length === undefined) return Buffer.from(await body.arrayBuffer());
  const whole = Buffer.from(new ArrayBuffer(length));
  let filled = 0;
  for await (const chunk of body) {
    // undici checks the length it was announced; this only guards the copy.
    if (filled + chunk.length > length) throw new RangeError(`the answer is longer than its Content-Length (${length})`);
    whole.set(chunk, filled);
    filled += chunk.length;
  }
  return filled === length ? whole : whole.subarray(0, filled);
}

function encodeBody(body: RestBody | undefined): { payload?: string | Uint8Array; contentType?: string } {
  if (body === undefined) return {};
  if (typeof body === 'string') return { payload: body };
  if (body instanceof Uint8Array) return { payload: body };
  return { payload: JSON.stringify(body), contentType: 'application/json' };
}

const hasHeader = (headers: Record<string, string>, name: string) => Object.keys(headers).some((key) => key.toLowerCase() === name);

/** Orthanc's JSON error body, or its text when it is not JSON. */
export function parseErrorDetails(body: Buffer): OrthancErrorDetails | string {
  const text = body.toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') return parsed;
  } catch {
    // Orthanc sends no JSON when HttpDescribeErrors is off, or for some 4xx (e.g. 405).
  }
  return text;
}

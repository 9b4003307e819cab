import { Pool } from 'undici';
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
const staleConnectionCodes = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Whether a failed request may be sent once more on a new connection: Orthanc closes an idle
 * keep-alive connection after 1 s, and a request can leave on it just as it closes ("other side
 * closed"). Only an idempotent request with a body that can be replayed is sent again, and only
 * when nothing of the answer has arrived.
 */
export function mayRetryOnNewConnection(method: string, error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return idempotentMethods.has(method.toUpperCase()) && typeof code === 'string' && staleConnectionCodes.has(code);
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
    this.pool = new Pool(parsed.origin, {
      connections: options.connections ?? 32,
      keepAliveTimeoutThreshold: 250,
      keepAliveTimeout: 750,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connectTimeout: Math.min(timeout, 10_000),
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
    const owned = new Set(['authorization', ...[...names].map((name) => name.toLowerCase()), ...Object.keys(headers).map((name) => name.toLowerCase())]);
    view.credentials = { headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])), names: owned };
    return view;
  }

  /** Sends one request with this connection's credentials (the host's own by default) and reads the whole answer, whatever its status. */
  async send(method: string, uri: string, body?: RestBody, headers: Record<string, string> = {}): Promise<RawAnswer> {
    const { payload, contentType } = encodeBody(body);
    const requestHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) if (!this.credentials.names.has(name.toLowerCase())) requestHeaders[name] = value;
    Object.assign(requestHeaders, this.credentials.headers);
    if (contentType && !hasHeader(requestHeaders, 'content-type')) requestHeaders['content-type'] = contentType;
    for (let attempt = 1; ; attempt += 1) {
      let answered = false;
      try {
        const answer = await this.pool.request({
          path: this.basePath + uri,
          method: method as 'GET',
          headers: requestHeaders,
          body: payload ?? null,
        });
        answered = true;
        const buffer = Buffer.from(await answer.body.arrayBuffer());
        return { statusCode: answer.statusCode, headers: answer.headers, body: buffer };
      } catch (error) {
        if (attempt === 1 && !answered && mayRetryOnNewConnection(method, error)) continue;
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

  async callJson<T = unknown>(method: string, uri: string, body?: RestBody): Promise<T> {
    const answer = await this.call(method, uri, body);
    return (answer.length === 0 ? undefined : JSON.parse(answer.toString('utf8'))) as T;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function encodeBody(body: RestBody | undefined): { payload?: string | Uint8Array; contentType?: string } {
  if (body === undefined) return {};
  if (typeof body === 'string') return { payload: body };
  if (body instanceof Uint8Array) return { payload: body };
  return { payload: JSON.stringify(body), contentType: 'application/json' };
}

const hasHeader = (headers: Record<string, string>, name: string) =>
  Object.keys(headers).some((key) => key.toLowerCase() === name);

function parseErrorDetails(body: Buffer): OrthancErrorDetails | string {
  const text = body.toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') return parsed as OrthancErrorDetails;
  } catch {
    // Orthanc sends no JSON when HttpDescribeErrors is off, or for some 4xx (e.g. 405).
  }
  return text;
}

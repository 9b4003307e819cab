import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import {
  decodePath,
  describe,
  runRestCallback,
  sendJsonError,
  type Logger,
  type OrthancConnection,
  type RestRouter,
} from '../binding/index.js';
import { logAccessWhenDone, pathForLog } from './access-log.js';
import { proxyToOrthanc } from './proxy.js';

export interface FrontOptions {
  connection: OrthancConnection;
  router: RestRouter;
  log: Logger;
  maxRecipeBodyBytes: number;
}

/**
 * The host's HTTP server. Registered routes go to their recipe; every other request is proxied to
 * Orthanc as it is (method, path, query, headers including Authorization, status, body), streamed
 * both ways. Recipe routes demand what Orthanc demands: a request is let in only when Orthanc
 * accepts the same Authorization header (the answer is cached for 10 s).
 */
export class HttpFront {
  readonly server: Server;
  private readonly authorizations = new LRUCache<string, boolean>({ max: 1000, ttl: 10_000 });
  private inFlight = 0;
  /** At `debug`: one line per request, see access-log.ts. */
  private readonly accessLog: Logger;

  constructor(private readonly options: FrontOptions) {
    this.accessLog = options.log.child('access');
    this.server = createServer({ requestTimeout: 0, keepAliveTimeout: 5_000 }, (request, response) => {
      this.inFlight += 1;
      response.once('close', () => (this.inFlight -= 1));
      logAccessWhenDone(request, response, this.accessLog, options.router);
      this.handle(request, response).catch((error: unknown) => {
        options.log.error(`${request.method} ${pathForLog(request.url)} failed: ${describe(error)}`);
        sendJsonError(response, 500, describe(error));
      });
    });
    this.server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    });
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
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(25);
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawUrl = request.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = decodePath(queryAt >= 0 ? rawUrl.slice(0, queryAt) : rawUrl);
    const match = path !== undefined ? this.options.router.match(path) : undefined;
    if (!match || path === undefined) return proxyToOrthanc(this.options.connection, request, response, this.options.log);

    const allowed = await this.isAuthorized(request.headers.authorization);
    if (allowed === undefined) return sendJsonError(response, 503, 'Orthanc is unreachable, so credentials cannot be checked');
    if (!allowed) {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="Orthanc Secure Area"', 'content-length': 0 });
      response.end();
      return;
    }
    await runRestCallback(match.route, match.groups, path, request, response, {
      log: this.options.log,
      maxBodyBytes: this.options.maxRecipeBodyBytes,
    });
  }

  /** Whether Orthanc lets this Authorization header (or its absence) in; undefined if it cannot say. */
  private async isAuthorized(header: string | undefined): Promise<boolean | undefined> {
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
      const allowed = answer.statusCode !== 401 && answer.statusCode !== 403;
      this.authorizations.set(key, allowed);
      return allowed;
    } catch {
      return undefined;
    }
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { OrthancHttpError, sendError, type OrthancConnection } from '../shared/binding/index.js';

export interface HealthOptions {
  connection: OrthancConnection;
  /** Each enabled recipe's state. */
  recipeStates: () => { id: string; status: string }[];
  /** How long one look at Orthanc answers every probe. Default 1 s. */
  cacheMs?: number;
}

export const livePath = '/recipes/health/live';
export const readyPath = '/recipes/health/ready';

/**
 * `GET /recipes/health/live` (the process answers) and `GET /recipes/health/ready` (Orthanc
 * answers the host's credentials, and every enabled recipe runs): 200, else 503 with the reasons.
 * For orchestrators, load balancers and systemd, so answered without credentials, and saying
 * nothing else: no version, no option, no error text (the reasons are fixed phrases and recipe
 * ids). Orthanc is asked at most once a second, however often probes come.
 */
export class Health {
  private lookedAt = 0;
  private look: Promise<string | undefined> | undefined;

  constructor(private readonly options: HealthOptions) {}

  /** Answers the request when it is a health probe; resolves true then. */
  answer(request: IncomingMessage, response: ServerResponse): boolean | Promise<boolean> {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt >= 0 ? url.slice(0, queryAt) : url;
    if (path !== livePath && path !== readyPath) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('cache-control', 'no-store');
      sendError(
        response,
        { status: 405, code: 'method-not-allowed', message: `${request.method} is not served here; this route serves GET,HEAD` },
        { allow: 'GET,HEAD' },
      );
      request.resume();
      return true;
    }
    request.resume();
    if (path === livePath) {
      send(response, 200, { Status: 'live' });
      return true;
    }
    return this.reasons().then((reasons) => {
      send(
        response,
        reasons.length === 0 ? 200 : 503,
        reasons.length === 0 ? { Status: 'ready' } : { Status: 'not ready', Reasons: reasons },
      );
      return true;
    });
  }

  /** Why the host is not ready; empty when it is. */
  async reasons(): Promise<string[]> {
    const reasons: string[] = [];
    const orthanc = await this.orthancProblem();
    if (orthanc) reasons.push(orthanc);
    for (const { id, status } of this.options.recipeStates()) {
      if (status === 'waiting') reasons.push(`recipe ${id} is waiting for Orthanc`);
      else if (status !== 'running') reasons.push(`recipe ${id} is ${status}`);
    }
    return reasons;
  }

  private orthancProblem(): Promise<string | undefined> {
    if (this.look && Date.now() - this.lookedAt < (this.options.cacheMs ?? 1000)) return this.look;
    this.lookedAt = Date.now();
    this.look = this.options.connection.callJson('GET', '/system').then(
      () => undefined,
      (error: unknown) =>
        error instanceof OrthancHttpError
          ? error.httpStatus === 401 || error.httpStatus === 403
            ? "Orthanc refuses the host's credentials"
            : `Orthanc answers /system with HTTP ${error.httpStatus}`
          : 'Orthanc is unreachable',
    );
    return this.look;
  }
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(response.req.method === 'HEAD' ? undefined : text);
}

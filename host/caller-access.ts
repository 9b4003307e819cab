import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import { callerCredentials, describe, type Logger, type OrthancConnection } from '../shared/binding/index.js';

export interface HostActionProbe {
  /** Default `GET`. */
  method?: string;
  /** Default `/jobs`: an URI sites reserve to administrators. */
  uri?: string;
  /** How long a 2xx is kept per credential; default 10 s, 0 asks every time. */
  cacheSeconds?: number;
}

/** What the front does with a host action. */
export type HostActionVerdict =
  | { allowed: true }
  /** Orthanc refused the credentials: its challenge is replayed, as Orthanc would send it. */
  | { allowed: false; status: 401; challenge: string }
  | { allowed: false; status: 403 | 503; message: string };

/**
 * Decides host actions: the status pages, the dashboard, `/recipes`, an autorouting retry, a
 * task's run now. These act with the host's own credentials, so a caller Orthanc lets in is not
 * enough: the caller must be let perform the probe (by default `GET /jobs`, an administrator's
 * right wherever rights are per user). It fails closed: only a 2xx lets in and only a 2xx is
 * kept (per credential, briefly); a 401 is Orthanc's challenge, replayed; any other answer is a
 * 403, and Orthanc out of reach a 503.
 */
export class HostActionGate {
  readonly method: string;
  readonly uri: string;
  private readonly allowed: LRUCache<string, true> | undefined;

  constructor(
    private readonly connection: OrthancConnection,
    probe: HostActionProbe,
    private readonly forwardedAuthHeaders: readonly string[],
    private readonly log: Logger,
  ) {
    this.method = (probe.method ?? 'GET').toUpperCase();
    this.uri = probe.uri ?? '/jobs';
    const ttl = (probe.cacheSeconds ?? 10) * 1000;
    this.allowed = ttl > 0 ? new LRUCache({ max: 1000, ttl }) : undefined;
  }

  async check(request: IncomingMessage): Promise<HostActionVerdict> {
    const caller = callerCredentials(request.headers, this.forwardedAuthHeaders);
    // The key covers the probe too, should two gates share a cache one day.
    const key = createHash('sha256').update(`${this.method} ${this.uri}\n${caller.id}`).digest('base64url');
    if (this.allowed?.get(key)) return { allowed: true };
    let status: number;
    let challenge: unknown;
    try {
      const answer = await this.connection.pool.request({
        path: `${this.connection.basePath}${this.uri}`,
        method: this.method,
        headers: caller.headers,
      });
      await answer.body.dump();
      status = answer.statusCode;
      challenge = answer.headers['www-authenticate'];
    } catch (error) {
      this.log.warning(`host action refused: the probe ${this.method} ${this.uri} could not reach Orthanc (${describe(error)})`);
      return { allowed: false, status: 503, message: 'Orthanc is unreachable, so the right to this host action cannot be checked' };
    }
    if (status >= 200 && status < 300) {
      this.allowed?.set(key, true);
      return { allowed: true };
    }
    if (status === 401)
      return { allowed: false, status: 401, challenge: typeof challenge === 'string' ? challenge : 'Basic realm="Orthanc Secure Area"' };
    if (status >= 500) {
      return {
        allowed: false,
        status: 503,
        message: `Orthanc answered the host-action probe ${this.method} ${this.uri} with HTTP ${status}, so the right to this host action cannot be checked`,
      };
    }
    return {
      allowed: false,
      status: 403,
      message: `this is a host action: it is allowed to callers whom Orthanc lets perform ${this.method} ${this.uri} (HttpServer.HostActionProbe), and Orthanc answered HTTP ${status}`,
    };
  }
}

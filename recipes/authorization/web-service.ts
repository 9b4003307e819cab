import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Agent, request } from 'undici';
import { describe, type IncomingHttpRequest, type LogFields, type Logger } from '../../shared/binding/index.js';
import type { Options } from './options.generated.js';

/** What the service is asked, as JSON. */
export interface AuthorizationQuestion {
  method: string;
  uri: string;
  /** The forwarded identity headers present in the request, names in lower case. */
  headers: Record<string, string>;
  ip: string;
  /** The Basic user name Orthanc accepted; null without. */
  username: string | null;
}

/** The most of an answer read: `{"granted": true}` is a few bytes. */
const maxAnswerBytes = 64 * 1024;

/**
 * Asks the web service whether a request may go on, with the answers kept `CacheSeconds` and
 * identical questions in flight asked once. It fails closed: only a 2xx whose body is a JSON
 * object with `"granted": true` lets in; `"granted": false` refuses (and is kept); a timeout, a
 * refused connection, another status or body refuses and is not kept. Failures are logged at most
 * once every 10 s.
 */
export class AuthorizationService {
  private readonly agent: Agent;
  private readonly cache: LRUCache<string, boolean> | undefined;
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly forwarded: readonly string[];
  private lastWarning = 0;
  /** Questions sent to the service (for the bench and the tests). */
  asked = 0;

  constructor(
    private readonly options: Options['WebService'],
    cacheSeconds: number,
    private readonly log: Logger,
  ) {
    const timeout = options.TimeoutMilliseconds;
    this.agent = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout, keepAliveTimeout: 4_000 });
    this.cache = cacheSeconds > 0 ? new LRUCache({ max: 10_000, ttl: cacheSeconds * 1000 }) : undefined;
    this.forwarded = options.ForwardedHeaders.map((name) => name.toLowerCase());
  }

  question(uri: string, incoming: IncomingHttpRequest): AuthorizationQuestion {
    const headers: Record<string, string> = {};
    for (const name of this.forwarded) if (incoming.headers[name] !== undefined) headers[name] = incoming.headers[name]!;
    return { method: incoming.method, uri, headers, ip: incoming.ip, username: incoming.username ?? null };
  }

  async isGranted(question: AuthorizationQuestion): Promise<boolean> {
    const body = JSON.stringify(question);
    const key = createHash('sha256').update(body).digest('base64url');
    const cached = this.cache?.get(key);
    if (cached !== undefined) return cached;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const asking = this.ask(body)
      .then((granted) => {
        this.cache?.set(key, granted);
        return granted;
      })
      .catch((error: unknown) => {
        this.warn('refused: the authorization service did not answer', {
          method: question.method,
          uri: question.uri,
          error: describe(error),
        });
        return false;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, asking);
    return asking;
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** The service's decision; throws when it gave none (so that nothing is kept). */
  private async ask(body: string): Promise<boolean> {
    this.asked += 1;
    const answer = await request(this.options.Url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
      dispatcher: this.agent,
      signal: AbortSignal.timeout(this.options.TimeoutMilliseconds),
    });
    if (answer.statusCode < 200 || answer.statusCode > 299) {
      await answer.body.dump();
      throw new Error(`the authorization service answered HTTP ${answer.statusCode}`);
    }
    let text = '';
    for await (const chunk of answer.body as AsyncIterable<Buffer>) {
      text += chunk.toString();
      if (text.length > maxAnswerBytes) {
        answer.body.destroy();
        throw new Error(`the authorization service's answer is larger than ${maxAnswerBytes} bytes`);
      }
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('the authorization service answered something other than JSON');
    }
    const granted = typeof parsed === 'object' && parsed !== null ? (parsed as { granted?: unknown }).granted : undefined;
    if (typeof granted !== 'boolean') throw new Error('the authorization service\'s answer has no boolean "granted"');
    return granted;
  }

  private warn(message: string, fields: LogFields): void {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return void this.log.debug(message, fields);
    this.lastWarning = now;
    this.log.warning(`${message} (such refusals are logged at most once every 10 s)`, fields);
  }
}

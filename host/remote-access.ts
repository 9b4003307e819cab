import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, describe, type Logger, type OrthancConnection } from '../shared/binding/index.js';

/** Whether `host` (the `HttpServer.Host` to bind) only lets this machine in. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/** What Orthanc said to `GET /system` without credentials. */
export type Verdict = 'requires-credentials' | 'open' | 'unreachable';

/**
 * Orthanc sees every proxied request as coming from the host, so its `RemoteAccessAllowed: false`
 * no longer protects it once the host binds a public address. This guard keeps the door shut
 * unless Orthanc asks for credentials itself: the host refuses to start when Orthanc answers
 * `/system` without them, and while Orthanc is away (it may come back with another configuration)
 * the front answers 503 until the check passes again.
 */
export class RemoteAccessGuard {
  private reason: string | undefined = 'the host has not yet checked that Orthanc requires credentials';
  private generation = 0;

  constructor(
    private readonly connection: OrthancConnection,
    private readonly bind: string,
    private readonly log: Logger,
  ) {}

  /** Why requests are refused now (503), or undefined when the door is safely open. */
  get refusal(): string | undefined {
    return this.reason;
  }

  /** Asks Orthanc for `/system` without any credentials (never the host's own). */
  async check(): Promise<Verdict> {
    try {
      const answer = await this.connection.pool.request({ path: `${this.connection.basePath}/system`, method: 'GET', headers: {} });
      await answer.body.dump();
      if (answer.statusCode >= 200 && answer.statusCode < 300) return 'open';
      return answer.statusCode === 401 || answer.statusCode === 403 ? 'requires-credentials' : 'unreachable';
    } catch {
      return 'unreachable';
    }
  }

  /** Why the host must not serve `bind` in front of an Orthanc that is open. */
  explanation(): string {
    return (
      `HttpServer.Host is ${JSON.stringify(this.bind)}, not a loopback address, and Orthanc at ${this.connection.url} answers /system ` +
      'without credentials: Orthanc sees every request as coming from the host, so anyone who reaches the host could use Orthanc. ' +
      'Enable authentication in Orthanc ("AuthenticationEnabled": true with "RegisteredUsers"), bind HttpServer.Host to 127.0.0.1, ' +
      'or, if something else guards the door, set "HttpServer": {"AllowRemoteAccessWithoutAuthentication": true}'
    );
  }

  /** Opens the door after a passed check (at start). */
  open(): void {
    this.generation += 1;
    this.reason = undefined;
  }

  /**
   * Shuts the door (Orthanc went away) and checks again, with back-off, until Orthanc answers:
   * the door opens when it asks for credentials and stays shut, with the reason, while it does not.
   */
  recheck(why: string): void {
    const generation = ++this.generation;
    if (this.reason === undefined) this.log.warning(`${why}: requests get 503 until Orthanc is seen to require credentials again`);
    this.reason ??= `${why}; the host checks that Orthanc still requires credentials before it lets requests through`;
    void (async () => {
      const backoff = new Backoff(250, 5_000);
      for (;;) {
        const verdict = await this.check();
        if (generation !== this.generation) return;
        if (verdict === 'requires-credentials') {
          this.reason = undefined;
          this.log.info('Orthanc requires credentials: requests go through again');
          return;
        }
        if (verdict === 'open') {
          // Checked again every 5 s: the administrator may fix Orthanc's configuration while
          // the host runs, and a quick restart might escape the change feed.
          if (this.reason !== this.explanation()) {
            this.reason = this.explanation();
            this.log.error(`refusing every request: ${this.reason}`);
          }
          await sleep(5_000, undefined, { ref: false });
          continue;
        }
        await sleep(backoff.next(), undefined, { ref: false });
        if (generation !== this.generation) return;
      }
    })().catch((error: unknown) => this.log.error(`remote access check failed: ${describe(error)}`));
  }

  /** Stops any check in progress. */
  stop(): void {
    this.generation += 1;
  }
}

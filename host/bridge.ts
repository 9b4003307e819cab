import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ChangeType,
  ResourceType,
  describe,
  sendError,
  type BridgeHooks,
  type ChangeFeed,
  type FindRequestNotice,
  type Logger,
  type ReceivedNotice,
} from '../shared/binding/index.js';
import { bridgeHooksHeader, bridgeSecretHeader } from './bridge-script.js';

/** What Orthanc answers a C-STORE whose Lua filter raised an error (see bridge-script.ts). */
const DIMSE_OUT_OF_RESOURCES = 0xa700;

/** Distinct scripts named in the log (each call bears the secret, but a log must stay bounded). */
const maxMismatchesNoted = 16;

/** The largest event the script may send (a received instance's main tags). */
const maxEventBytes = 4 * 2 ** 20;

const deletedLevels: Readonly<Record<string, (typeof ResourceType)[keyof typeof ResourceType]>> = {
  Patient: ResourceType.PATIENT,
  Study: ResourceType.STUDY,
  Series: ResourceType.SERIES,
  Instance: ResourceType.INSTANCE,
};

/**
 * The bridge's shared secret, kept in the state folder (mode 0600) and created at first need:
 * the script sends it with every call, and the bridge refuses any call without it, loopback
 * included (any local user can reach a loopback port).
 */
export async function bridgeSecret(stateDirectory: string): Promise<string> {
  const file = join(stateDirectory, 'bridge-secret');
  try {
    const saved = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(saved)) return saved;
  } catch {
    // Not made yet.
  }
  await mkdir(stateDirectory, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('hex');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return secret;
}

/** What the bridge has seen since the host started, for `/recipes`. */
export interface BridgeCounters {
  Calls: number;
  Refused: number;
  /** C-FIND queries (worklists included) that a filter refused. */
  RefusedQueries: number;
  Deletions: number;
  /** Calls Orthanc's script made while the host did not answer, as it reports them afterwards. */
  UnansweredByHost: number;
  /** Calls refused for a missing or wrong secret. */
  Forbidden: number;
}

/** A script that serves other hooks than the enabled recipes need: generated for another configuration. */
export interface ScriptMismatch {
  /** Hooks the recipes need that the script does not define: Orthanc never asks the host about them. */
  Missing: string[];
  /** Hooks the script defines that no enabled recipe needs: Orthanc asks the host for nothing. */
  Unused: string[];
}

/** Where the bridge delivers, once the host has set its recipes up; until then it answers 503. */
export interface BridgeTarget {
  hooks: BridgeHooks;
  feed: ChangeFeed;
}

/**
 * The host's end of the Lua bridge: a small HTTP server apart from the front (it never
 * proxies, never asks Orthanc whether a caller may pass: Orthanc is waiting on it, under its Lua
 * lock) that answers only calls bearing the shared secret. Answers are short text: `true` or
 * `false` for a received instance, the query as JSON or `refuse` for a C-FIND, `ok` for a deletion.
 */
export class BridgeServer {
  readonly counters: BridgeCounters = { Calls: 0, Refused: 0, RefusedQueries: 0, Deletions: 0, UnansweredByHost: 0, Forbidden: 0 };
  target: BridgeTarget | undefined;
  /** Set once a call came from a script made for other hooks (see `scriptHooks`). */
  scriptMismatch: ScriptMismatch | undefined;
  private readonly secretDigest: Buffer;
  private readonly mismatchesNoted = new Set<string>();
  private lastForbiddenLog = 0;
  private readonly statusesNoted = new Set<number>();

  private constructor(
    private readonly server: Server,
    secret: string,
    private readonly expectedHooks: string,
    private readonly log: Logger,
  ) {
    this.secretDigest = digest(secret);
  }

  /** `expectedHooks`: `scriptHooks` of what the enabled recipes need, as a script made for them announces it. */
  static async start(options: { host: string; port: number; secret: string; expectedHooks: string; log: Logger }): Promise<BridgeServer> {
    let bridge: BridgeServer | undefined;
    const server = createServer({ keepAliveTimeout: 65_000 }, (request, response) => void bridge!.serve(request, response));
    bridge = new BridgeServer(server, options.secret, options.expectedHooks, options.log);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return bridge;
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** `http://127.0.0.1:8044`: where the bridge listens. */
  get url(): string {
    const { address, family, port } = this.address;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
  }

  async close(): Promise<void> {
    this.target = undefined;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const answer = (status: number, text: string) => {
      response.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      response.end(text);
    };
    try {
      if (!this.authorized(request.headers[bridgeSecretHeader])) {
        this.counters.Forbidden += 1;
        if (Date.now() - this.lastForbiddenLog > 10_000) {
          this.lastForbiddenLog = Date.now();
          this.log.warning(`refused a call without the bridge's secret from ${request.socket.remoteAddress}`);
        }
        request.resume();
        return answer(403, 'forbidden');
      }
      if (request.method !== 'POST') {
        request.resume();
        return sendError(
          response,
          { status: 405, code: 'method-not-allowed', message: `${request.method} is not served here; this route serves POST` },
          { allow: 'POST' },
        );
      }
      const announced = request.headers[bridgeHooksHeader];
      if (announced !== this.expectedHooks) this.noteScriptMismatch(announced);
      else if (this.scriptMismatch) {
        this.scriptMismatch = undefined;
        this.mismatchesNoted.clear();
        this.log.info("Orthanc's bridge script now defines the hooks the enabled recipes need");
      }
      const body = await readSmallBody(request);
      if (body === undefined) return answer(413, 'too large');
      const target = this.target;
      if (!target) return answer(503, 'starting');
      let event: ReceivedNotice & FindRequestNotice & { Unanswered?: unknown; level?: unknown; id?: unknown };
      try {
        event = JSON.parse(body.toString('utf8')) as typeof event;
      } catch {
        return answer(400, 'not JSON');
      }
      // Lua numbers may arrive as JSON numbers or as strings, depending on DumpJson's mode.
      const unanswered = Number(event.Unanswered ?? 0);
      if (Number.isSafeInteger(unanswered) && unanswered > 0) this.counters.UnansweredByHost += unanswered;
      this.counters.Calls += 1;
      switch (request.url) {
        case '/bridge/received-instance': {
          // One call decides: the received-instance filters, then for a C-STORE the C-STORE filters.
          let keep = await target.hooks.filterReceived(event);
          if (keep && event.origin?.RequestOrigin === 'DicomProtocol' && target.hooks.hasCStoreFilters) {
            const status = await target.hooks.filterCStore(event);
            keep = status === 0;
            if (!keep) this.noteCStoreStatus(status);
          }
          if (!keep) this.counters.Refused += 1;
          return answer(200, String(keep));
        }
        case '/bridge/find-request':
        case '/bridge/worklist-request': {
          // The query Orthanc is to run, as JSON, or the word `refuse` (the script then fails the C-FIND).
          const query =
            request.url === '/bridge/find-request'
              ? await target.hooks.filterFindRequest(event)
              : await target.hooks.filterWorklistRequest(event);
          if (query === null) {
            this.counters.RefusedQueries += 1;
            return answer(200, 'refuse');
          }
          return answer(200, JSON.stringify(query));
        }
        case '/bridge/deleted': {
          const level =
            typeof event.level === 'string' && Object.hasOwn(deletedLevels, event.level) ? deletedLevels[event.level] : undefined;
          if (level === undefined || typeof event.id !== 'string' || event.id === '') return answer(400, 'level and id expected');
          this.counters.Deletions += 1;
          target.feed.inject({ changeType: ChangeType.DELETED, resourceType: level, resourceId: event.id });
          return answer(200, 'ok');
        }
        default:
          return answer(404, 'unknown bridge route');
      }
    } catch (error) {
      this.log.error(`bridge call ${request.url} failed: ${describe(error)}`);
      if (!response.headersSent) answer(500, 'failed');
      else response.destroy();
    }
  }

  /**
   * A script generated for another configuration (or before this check existed: no header) is
   * silent about the hooks it lacks, so say it once per script, as an error when a hook is missing:
   * a filter that Orthanc never calls lets everything through.
   */
  private noteScriptMismatch(announced: string | string[] | undefined): void {
    const value = typeof announced === 'string' ? announced : '(none)';
    // A handful of scripts at most in practice: past that many, a new one is neither logged nor shown.
    if (this.mismatchesNoted.has(value) || this.mismatchesNoted.size >= maxMismatchesNoted) return;
    this.mismatchesNoted.add(value);
    const list = (text: string) => text.split(',').filter(Boolean);
    const expected = list(this.expectedHooks);
    const served = typeof announced === 'string' ? list(announced) : [];
    const Missing = typeof announced === 'string' ? expected.filter((hook) => !served.includes(hook)) : expected;
    const Unused = served.filter((hook) => !expected.includes(hook));
    this.scriptMismatch = { Missing, Unused };
    const advice = 'regenerate it with `orthanc-recipes bridge --config FILE --output FILE` and restart Orthanc';
    if (typeof announced !== 'string')
      this.log.error(`Orthanc's bridge script does not say which hooks it defines (made by an older version): ${advice}`);
    else if (Missing.length > 0)
      this.log.error(`Orthanc's bridge script lacks hooks the enabled recipes need: Orthanc never calls them; ${advice}`, {
        missing: Missing.join(','),
        unused: Unused.join(','),
      });
    else this.log.warning(`Orthanc's bridge script defines hooks no enabled recipe needs; ${advice}`, { unused: Unused.join(',') });
  }

  /** Orthanc's Lua can only answer 0xA700 to a refused C-STORE: says so once for any other status. */
  private noteCStoreStatus(status: number): void {
    if (status === DIMSE_OUT_OF_RESOURCES || this.statusesNoted.has(status)) return;
    this.statusesNoted.add(status);
    const hex = (value: number) => `0x${value.toString(16).toUpperCase().padStart(4, '0')}`;
    this.log.warning(
      `a C-STORE filter answered DIMSE status ${hex(status)}; through Orthanc's Lua the modality hears ${hex(DIMSE_OUT_OF_RESOURCES)} (out of resources)`,
    );
  }

  private authorized(value: string | string[] | undefined): boolean {
    return typeof value === 'string' && timingSafeEqual(digest(value), this.secretDigest);
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** The body, or undefined past `maxEventBytes` (the rest is dropped). */
async function readSmallBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxEventBytes) {
      request.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

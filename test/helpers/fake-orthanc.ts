import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  ChangeType,
  ResourceType,
  changeTypeFromOrthanc,
  resourceTypeFromOrthanc,
  type ChangeTypeName,
  type ResourceTypeName,
} from '../../shared/binding/index.js';
import { formatOrthancTime, levelOfResourceType, levelPath } from '../../shared/orthanc-resources.js';

/** One request the fake received, as a test asserts on it. */
export interface FakeCall {
  method: string;
  /** The path without the query string, percent-decoded (`/instances/abc/tags`). */
  path: string;
  /** The query string's arguments (the last value of a repeated one). */
  query: Record<string, string>;
  /** The path with its query, as sent (`/instances/abc/tags?simplify`). */
  uri: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** What the fake answers: JSON (the default content type), bytes or text, with a status (default 200). */
export interface FakeAnswer {
  status?: number;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export type FakeHandler = FakeAnswer | ((call: FakeCall) => FakeAnswer | Promise<FakeAnswer>);

/**
 * Declared answers, keyed `"METHOD /path"` (exact path, query ignored) or `"METHOD /regex/"`
 * (a regular expression between slashes, matched against the whole path), e.g.
 * `{ 'GET /instances/abc/tags': { json: {...} }, 'POST /modalities/pacs/store': { json: { ID: 'job' } } }`.
 */
export type FakeRoutes = Record<string, FakeHandler>;

interface Route {
  method: string;
  test: (path: string) => boolean;
  handler: FakeHandler;
}

/** Orthanc's own strings for the change and resource types that `/changes` holds (the binding's maps, inverted). */
const invert = (map: Readonly<Record<string, number>>) => new Map(Object.entries(map).map(([orthancName, value]) => [value, orthancName]));
const orthancChangeName = invert(changeTypeFromOrthanc);
const orthancResourceName = invert(resourceTypeFromOrthanc);

const notFound = (uri: string): FakeAnswer => ({
  status: 404,
  json: { HttpStatus: 404, Message: 'Unknown resource', Method: 'GET', Uri: uri },
});

/**
 * A stand-in for Orthanc's REST API on a free loopback port, for tests that must run in
 * milliseconds: it answers what a test declares, serves `/changes` from the changes the test
 * pushes, records every call, and answers Orthanc's 404 for the rest. `/system` defaults to
 * Orthanc 1.10.1's (no extended `/changes` or `/tools/find`), so a recipe takes its most
 * portable path; declare `GET /system` to pretend otherwise. The integration tier runs the
 * same recipe against a real Orthanc.
 */
export class FakeOrthanc {
  readonly calls: FakeCall[] = [];
  private readonly routes: Route[] = [];
  private readonly changes: { Seq: number; ChangeType: string; ResourceType: string; ID: string; Path: string; Date: string }[] = [];
  private readonly sockets = new Set<Socket>();
  private reachable = true;

  private constructor(private readonly server: Server) {}

  static async start(routes: FakeRoutes = {}): Promise<FakeOrthanc> {
    let fake: FakeOrthanc | undefined;
    const server = createServer((request, response) => void fake!.serve(request, response));
    fake = new FakeOrthanc(server);
    server.on('connection', (socket) => {
      if (!fake.reachable) return void socket.destroy();
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.answer(routes);
    return fake;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Declares answers (later declarations of the same route win, so a test can change its mind). */
  answer(routes: FakeRoutes): this {
    for (const [key, handler] of Object.entries(routes)) {
      const space = key.indexOf(' ');
      if (space < 1) throw new TypeError(`a fake route is "METHOD /path": ${JSON.stringify(key)}`);
      const method = key.slice(0, space).toUpperCase();
      const pattern = key.slice(space + 1);
      const regex =
        pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/') ? new RegExp(`^(?:${pattern.slice(1, -1)})$`) : undefined;
      this.routes.unshift({ method, test: regex ? (path) => regex.test(path) : (path) => path === pattern, handler });
    }
    return this;
  }

  /** Appends a change to `/changes` (one of the types Orthanc writes there); returns its sequence number. */
  pushChange(changeType: ChangeTypeName, resourceType: ResourceTypeName, id: string): number {
    const change = orthancChangeName.get(ChangeType[changeType]);
    const resource = orthancResourceName.get(ResourceType[resourceType]);
    if (!change || !resource) throw new TypeError(`Orthanc never writes ${changeType} ${resourceType} to /changes`);
    const seq = this.lastSeq + 1;
    const level = levelOfResourceType(ResourceType[resourceType]);
    this.changes.push({
      Seq: seq,
      ChangeType: change,
      ResourceType: resource,
      ID: id,
      Path: level ? `/${levelPath[level]}/${id}` : '',
      Date: formatOrthancTime(new Date()),
    });
    return seq;
  }

  get lastSeq(): number {
    return this.changes.at(-1)?.Seq ?? 0;
  }

  /** The calls with this method and path (query ignored), in order. */
  callsTo(method: string, path: string): FakeCall[] {
    return this.calls.filter((call) => call.method === method.toUpperCase() && call.path === path);
  }

  /** Refuses connections (and drops open ones) until `up()`, as a stopped Orthanc would. */
  down(): void {
    this.reachable = false;
    for (const socket of this.sockets) socket.destroy();
  }

  up(): void {
    this.reachable = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const uri = request.url ?? '/';
    const url = new URL(uri, 'http://fake');
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const call: FakeCall = {
      method: request.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query,
      uri,
      headers: request.headers,
      body: Buffer.concat(chunks),
    };
    if (call.path !== '/changes') this.calls.push(call);
    let answer: FakeAnswer;
    try {
      answer = await this.resolve(call);
    } catch (error) {
      answer = { status: 500, json: { HttpStatus: 500, Message: `the fake's handler threw: ${(error as Error).message}` } };
    }
    const body = answer.json !== undefined ? JSON.stringify(answer.json) : (answer.body ?? '');
    const type = answer.json !== undefined ? { 'content-type': 'application/json' } : {};
    response.writeHead(answer.status ?? 200, { ...type, ...answer.headers, 'content-length': Buffer.byteLength(body) });
    response.end(body);
  }

  private async resolve(call: FakeCall): Promise<FakeAnswer> {
    const route = this.routes.find((r) => r.method === call.method && r.test(call.path));
    if (route) return typeof route.handler === 'function' ? route.handler(call) : route.handler;
    if (call.method === 'GET' && call.path === '/system')
      return { json: { ApiVersion: 16, Version: '1.10.1', Name: 'FakeOrthanc', DicomAet: 'ORTHANC', DicomPort: 4242, HttpPort: 8042 } };
    if (call.method === 'GET' && call.path === '/changes') return { json: this.changesPage(call.query) };
    return notFound(call.uri);
  }

  /** Orthanc's `/changes?since=&limit=` and `/changes?last`. */
  private changesPage(query: Record<string, string>): unknown {
    const last = this.lastSeq;
    if ('last' in query) return { Changes: this.changes.slice(-1), Done: true, Last: last };
    const since = Number(query.since ?? 0);
    const limit = Number(query.limit ?? 100) || 100;
    const page = this.changes.filter((change) => change.Seq > since).slice(0, limit);
    return { Changes: page, Done: page.length === 0 || page.at(-1)!.Seq === last, Last: page.at(-1)?.Seq ?? last };
  }
}

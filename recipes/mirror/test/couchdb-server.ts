import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real server of CouchDB's HTTP API for the tests: PouchDB Server's express-pouchdb (pure
 * JavaScript, in memory), behind HTTP Basic authentication as a CouchDB with an admin asks for.
 * `stop()` closes the port (connections refused) and keeps the data; `start()` opens the same
 * port again: the target down, then back. Every server of a process serves the same databases.
 */
export interface TestCouchDb {
  /** `http://user@127.0.0.1:port`: the user in the URL, the password kept apart. */
  url: string;
  username: string;
  password: string;
  /** Requests refused for their credentials so far. */
  refused: number;
  /**
   * Called before each authorized request reaches the server (method, path): a test makes a
   * conflict there, writing the document itself first. Undefined: none.
   */
  interpose: ((method: string, path: string) => Promise<void>) | undefined;
  /** A request of the test's own, with the credentials, bypassing `interpose`. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Every document of `database` (design documents left out), by `_id`. */
  documents(database: string): Promise<Map<string, Record<string, unknown>>>;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

interface PouchStatic {
  plugin(plugin: unknown): PouchStatic;
  defaults(options: object): PouchStatic;
}

type App = ((request: unknown, response: unknown) => void) & { setPouchDB(pouch: PouchStatic): Promise<void> };
let shared: Promise<App> | undefined;

/**
 * express-pouchdb keeps process-wide state (a lock and the list of databases): a second app in the
 * same process never starts. One app serves every server of the process, so each test suite
 * uses databases of its own names.
 */
function pouchApp(): Promise<App> {
  shared ??= (async () => {
    const require = createRequire(import.meta.url);
    const PouchDB = (require('pouchdb-core') as PouchStatic).plugin(require('pouchdb-adapter-memory'));
    const app = (require('express-pouchdb') as (options: object) => App)({ mode: 'minimumForPouchDB', inMemoryConfig: true });
    // Given here rather than to the factory: its start (the list of databases) is then awaited,
    // where a request before it ends would find no database.
    await app.setPouchDB(PouchDB.defaults({ adapter: 'memory' }));
    return app;
  })();
  return shared;
}

export async function startTestCouchDb(username = 'orthanc', password = 'couch-secret'): Promise<TestCouchDb> {
  const app = await pouchApp();
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

  let port = 0;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const state: { refused: number; interpose: TestCouchDb['interpose'] } = { refused: 0, interpose: undefined };
  const listen = async () => {
    const opened = createServer((request, response) => {
      if (request.headers.authorization !== expected) {
        state.refused += 1;
        response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="server"' });
        response.end('{"error":"unauthorized","reason":"Name or password is incorrect."}\n');
        return;
      }
      const interpose = state.interpose;
      if (!interpose || request.headers['x-test-own'] === '1') return app(request, response);
      interpose(request.method ?? 'GET', request.url ?? '/').then(
        () => app(request, response),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
    });
    opened.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      opened.once('error', reject);
      opened.listen(port, '127.0.0.1', () => resolve());
    });
    port = (opened.address() as AddressInfo).port;
    server = opened;
  };
  const close = async () => {
    const closing = server;
    server = undefined;
    if (!closing) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await listen();

  return {
    url: `http://${username}@127.0.0.1:${port}`,
    username,
    password,
    get refused() {
      return state.refused;
    },
    get interpose() {
      return state.interpose;
    },
    set interpose(hook) {
      state.interpose = hook;
    },
    async call(method, path, body) {
      const answer = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { authorization: expected, 'x-test-own': '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: answer.status, json: (await answer.json()) as Record<string, unknown> };
    },
    async documents(database) {
      const answer = await fetch(`http://127.0.0.1:${port}/${encodeURIComponent(database)}/_all_docs?include_docs=true`, {
        headers: { authorization: expected },
      });
      if (answer.status === 404) return new Map();
      const rows = ((await answer.json()) as { rows: { id: string; doc: Record<string, unknown> }[] }).rows;
      return new Map(rows.filter((row) => !row.id.startsWith('_design/')).map((row) => [row.id, row.doc]));
    },
    stop: close,
    start: listen,
    dispose: close,
  };
}

import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ChangeType, createLogger } from '../shared/binding/index.js';
import { Host, bundledRecipes, validateConfig } from '../host/index.js';
import { defineRecipe } from '../shared/recipe.js';
import { eventually } from './helpers/changes.js';
import { generateStudy } from './helpers/dicom.js';
import { startHostProcess as startHost, type HostProcess } from './helpers/host.js';
import { basicAuth, rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

// What an operator sees: JSON logs, the front's access log, and /recipes' setup times, against an
// Orthanc that requires credentials (so that real Authorization headers go through the front).
const password = 'Pa55-in-the-config';
const authorization = basicAuth('alice', password);
const cookie = 'orthanc-session=CookieValue42';
/** Query-string values that may hold patient data: none may reach a log line. */
const queryValues = ['QueryPatient1', 'QueryPatient2', 'QueryPatient3', 'QueryPatient4'];

interface JsonLine {
  time: string;
  level: string;
  logger: string;
  message: string;
  [field: string]: unknown;
}

/** Sends one request as raw bytes (here: an absolute-form request target) and returns the status line. */
function rawHttp(url: string, head: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(head));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
  });
}

const meta = (id: string, routes: string[] = []) => ({
  id,
  title: id,
  description: 'An observability probe.',
  routes,
  events: [],
  destructive: false,
});
const schema = { type: 'object', properties: {}, additionalProperties: false };

/** Refuses every NEW_INSTANCE, throws on GET /probe/throw, answers GET /probe/ok. */
const probe = defineRecipe({
  meta: meta('probe', ['GET /probe/ok', 'GET /probe/throw']),
  schema,
  setup({ orthanc }) {
    orthanc.registerOnChangeCallback((changeType, _resourceType, resourceId) => {
      if (changeType === ChangeType.NEW_INSTANCE) throw new Error(`refusing ${resourceId}`);
    });
    orthanc.registerRestCallback('/probe/ok', (output) => output.answerBuffer('ok', 'text/plain'));
    orthanc.registerRestCallback('/probe/(throw)', () => {
      throw new Error('boom on purpose');
    });
  },
});
const slowSetup = defineRecipe({
  meta: meta('slow-setup'),
  schema,
  async setup() {
    await sleep(300);
  },
});
const failedSetup = defineRecipe({
  meta: meta('failed-setup'),
  schema,
  async setup() {
    await sleep(100);
    throw new Error('no database on purpose');
  },
});

describe('logs for log shippers, the access log and setup times', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  // Stopped in `after` too, so that a failed assertion never leaves a host running.
  const hosts: HostProcess[] = [];
  const startHostProcess = async (config: Record<string, unknown>) => {
    const host = await startHost(config);
    hosts.push(host);
    return host;
  };

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: { AuthenticationEnabled: true, RegisteredUsers: { alice: password } },
      credentials: { username: 'alice', password },
    });
  });

  after(async () => {
    for (const host of hosts) await host.stop('SIGKILL');
    await orthanc?.stop();
  });

  it('with "LogFormat": "json", writes every line of the CLI as one JSON object, the access log holding no secret', async () => {
    const host = await startHostProcess({
      Orthanc: { Url: orthanc.url, Username: 'alice', Password: password },
      LogFormat: 'json',
      LogLevel: 'debug',
      Recipes: { hello: { Enabled: true } },
    });
    const headers = { authorization, cookie };
    const [instance] = generateStudy({
      patientId: 'LOG-1',
      patientName: 'Log^Test',
      studyDate: '20240404',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const stored = await rawRequest(`${host.url}/instances?PatientID=${queryValues[0]}`, { method: 'POST', headers, body: instance!.file });
    assert.equal(stored.status, 200);
    const { ID } = JSON.parse(stored.body.toString()) as { ID: string };
    assert.equal((await rawRequest(`${host.url}/toto?PatientName=${queryValues[1]}`, { headers })).status, 200);
    assert.equal((await rawRequest(`${host.url}/patients?expand&PatientID=${queryValues[2]}`, { headers })).status, 200);
    assert.equal((await rawRequest(`${host.url}/system`)).status, 401);
    // An absolute-form target carries credentials in the URL itself; whatever the answer, they stay out of the log.
    const { host: hostPort } = new URL(host.url);
    await rawHttp(
      host.url,
      `GET http://bob:UrlPassword9@${hostPort}/system?x=${queryValues[3]} HTTP/1.1\r\nHost: ${hostPort}\r\nConnection: close\r\n\r\n`,
    );
    await host.log.waitFor(new RegExp(`NEW_INSTANCE INSTANCE ${ID}`));
    await host.log.waitFor(/"logger":"access".*"path":"\/system".*"status":401/);
    assert.equal(await host.stop('SIGTERM'), 0);

    const lines = host.log.lines.filter((line) => line !== '');
    assert.ok(lines.length > 5, `only ${lines.length} lines`);
    const entries = lines.map((line) => {
      const entry = JSON.parse(line) as JsonLine;
      for (const key of ['time', 'level', 'logger', 'message'] as const) assert.equal(typeof entry[key], 'string', `${key} of ${line}`);
      assert.equal(new Date(entry.time).toISOString(), entry.time);
      assert.ok(['error', 'warning', 'info', 'debug'].includes(entry.level), line);
      return entry;
    });
    assert.ok(entries.some((e) => e.logger === 'hello' && e.message === `NEW_INSTANCE INSTANCE ${ID}`));
    assert.ok(entries.some((e) => e.logger === 'host' && e.message === 'stopped'));

    const access = entries.filter((e) => e.logger === 'access');
    const find = (method: string, path: string, status: number) => {
      const found = access.find((e) => e.method === method && e.path === path && e.status === status);
      assert.ok(found, `no access line for ${method} ${path} ${status} in:\n${access.map((e) => JSON.stringify(e)).join('\n')}`);
      assert.equal(found.level, 'debug');
      assert.equal(typeof found.durationMs, 'number');
      assert.ok((found.bytes as number) > 0, 'bytes sent');
      return found;
    };
    const upload = find('POST', '/instances', 200);
    assert.equal(upload.proxied, true);
    const recipeRoute = find('GET', '/toto', 200);
    assert.deepEqual([recipeRoute.recipe, recipeRoute.route, recipeRoute.proxied], ['hello', '/(to)(t)o', false]);
    find('GET', '/patients', 200);
    find('GET', '/system', 401);
    assert.ok(
      access.some((e) => e.path === '/system' && e.method === 'GET' && e.status !== 401),
      'the absolute-form request is logged by its path',
    );

    const everything = lines.join('\n');
    for (const secret of [
      password,
      authorization.slice('Basic '.length),
      'CookieValue42',
      'UrlPassword9',
      ...queryValues,
      'Log^Test',
      'LOG-1',
    ]) {
      assert.ok(!everything.includes(secret), `the log holds "${secret}"`);
    }
  });

  it('keeps the access log off at the default level, and appends its fields as key=value in text', async () => {
    const quiet = await startHostProcess({
      Orthanc: { Url: orthanc.url, Username: 'alice', Password: password },
      Recipes: { hello: { Enabled: true } },
    });
    assert.equal((await rawRequest(`${quiet.url}/toto`, { headers: { authorization } })).status, 200);
    assert.equal((await rawRequest(`${quiet.url}/system`, { headers: { authorization } })).status, 200);
    assert.equal(await quiet.stop('SIGTERM'), 0);
    assert.ok(
      quiet.log.lines.some((line) => / host\] stopped$/.test(line)),
      'text lines as before',
    );
    assert.ok(!quiet.log.lines.some((line) => line.includes('access]')), quiet.log.lines.join('\n'));

    const verbose = await startHostProcess({
      Orthanc: { Url: orthanc.url, Username: 'alice', Password: password },
      LogLevel: 'debug',
      Recipes: { hello: { Enabled: true } },
    });
    assert.equal((await rawRequest(`${verbose.url}/system?since=${queryValues[0]}`, { headers: { authorization } })).status, 200);
    const line = await verbose.log.waitFor(/access\] GET \/system 200 /);
    assert.match(line, /^D \S+ access\] GET \/system 200 method=GET path=\/system status=200 durationMs=[\d.]+ bytes=\d+ proxied=true$/);
    assert.equal(await verbose.stop('SIGTERM'), 0);
    assert.ok(!verbose.log.lines.join('\n').includes(queryValues[0]!));
  });

  it('gives a failing change handler and a failing route their structured fields, and /recipes the setup times', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-observability-'));
    const registry = {
      ...bundledRecipes,
      probe: async () => probe,
      'slow-setup': async () => slowSetup,
      'failed-setup': async () => failedSetup,
    };
    const config = {
      StateDirectory: join(directory, 'state'),
      Orthanc: { Url: orthanc.url, Username: 'alice', Password: password },
      HttpServer: { Port: 0 },
      Recipes: { hello: { Enabled: true }, probe: { Enabled: true }, 'slow-setup': { Enabled: true }, 'failed-setup': { Enabled: true } },
    };
    const loaded = await validateConfig(config, join(directory, 'orthanc-recipes.json'), registry);
    const lines: string[] = [];
    const host = await Host.start(loaded, {
      log: createLogger('host', { level: 'debug', format: 'json', write: (line) => lines.push(line) }),
    });
    try {
      const entries = () => lines.map((line) => JSON.parse(line) as JsonLine);
      const [instance] = generateStudy({
        patientId: 'LOG-2',
        patientName: 'Log^Two',
        studyDate: '20240405',
        series: [{ modality: 'CT', instances: 1 }],
      });
      const { ID } = await orthanc.upload(instance!.file);
      await eventually(() => entries().some((e) => e.resourceId === ID), 20_000, 'the handler failure');
      const failure = entries().find((e) => e.resourceId === ID)!;
      assert.deepEqual(
        {
          level: failure.level,
          logger: failure.logger,
          recipe: failure.recipe,
          changeType: failure.changeType,
          resourceType: failure.resourceType,
        },
        { level: 'error', logger: 'changes', recipe: 'probe', changeType: 'NEW_INSTANCE', resourceType: 'INSTANCE' },
      );
      assert.equal(typeof failure.seq, 'number');
      assert.match(failure.message, new RegExp(`recipe probe: change handler failed on NEW_INSTANCE INSTANCE ${ID}: refusing ${ID}`));

      assert.equal((await rawRequest(`${host.url}/probe/throw`, { headers: { authorization } })).status, 500);
      await eventually(() => entries().some((e) => e.logger === 'access' && e.path === '/probe/throw'), 5_000, 'the access line');
      const routeFailure = entries().find((e) => e.level === 'error' && e.route === '/probe/(throw)')!;
      assert.deepEqual([routeFailure.recipe, routeFailure.method, routeFailure.status], ['probe', 'GET', 500]);
      const accessLine = entries().find((e) => e.logger === 'access' && e.path === '/probe/throw')!;
      assert.deepEqual([accessLine.recipe, accessLine.route, accessLine.status], ['probe', '/probe/(throw)', 500]);

      const about = JSON.parse((await rawRequest(`${host.url}/recipes`, { headers: { authorization } })).body.toString()) as {
        Recipes: { Id: string; Status: string; SetupMilliseconds: number; Error?: string }[];
      };
      const byId = Object.fromEntries(about.Recipes.map((r) => [r.Id, r]));
      for (const recipe of about.Recipes) assert.equal(typeof recipe.SetupMilliseconds, 'number', recipe.Id);
      assert.equal(byId['hello']!.Status, 'running');
      assert.ok(byId['hello']!.SetupMilliseconds >= 0);
      // Lower bounds only: the setup waited at least that long.
      assert.equal(byId['slow-setup']!.Status, 'running');
      assert.ok(byId['slow-setup']!.SetupMilliseconds >= 290, `slow-setup: ${byId['slow-setup']!.SetupMilliseconds}`);
      assert.equal(byId['failed-setup']!.Status, 'failed');
      assert.equal(byId['failed-setup']!.Error, 'no database on purpose');
      assert.ok(byId['failed-setup']!.SetupMilliseconds >= 90, `failed-setup: ${byId['failed-setup']!.SetupMilliseconds}`);
      const setupFailure = entries().find((e) => e.logger === 'failed-setup' && e.level === 'error')!;
      assert.deepEqual([setupFailure.recipe, typeof setupFailure.setupMilliseconds], ['failed-setup', 'number']);
    } finally {
      await host.close();
    }
  });
});

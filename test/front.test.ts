import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OrthancHttpError } from '../shared/binding/index.js';
import { defineRecipe } from '../shared/recipe.js';
import type { Host } from '../host/index.js';
import { generateCollection } from './helpers/dicom.js';
import { startHostInProcess, type LineLog } from './helpers/host.js';
import { comparableHeaders, rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

const testRoutes = defineRecipe({
  meta: {
    id: 'test-routes',
    title: 'Test routes',
    description: 'Routes that misbehave on purpose.',
    routes: [],
    events: [],
    destructive: false,
  },
  schema: { type: 'object', properties: {}, additionalProperties: false },
  setup({ orthanc }) {
    orthanc.registerRestCallback('/test/throw', () => {
      throw new Error('boom on purpose');
    });
    orthanc.registerRestCallback('/test/orthanc-404', async (output) => {
      await orthanc.restApiGet('/instances/no-such-instance');
      output.answerBuffer('unreachable', 'text/plain');
    });
    orthanc.registerRestCallback('/test/silent', () => undefined);
    orthanc.registerRestCallback('/test/calls', async (output) => {
      let failure: unknown;
      try {
        await orthanc.restApiGet('/no/such/route'); // an unknown instance gets a bare 404, an unknown route a JSON one
      } catch (error) {
        failure = error;
      }
      const { name, code, httpStatus, details } = failure as OrthancHttpError;
      const found = await orthanc.restApiPostJson<string[]>('/tools/find', { Level: 'Patient', Query: { PatientID: 'RCP-00*' } });
      const system = await orthanc.getSystem();
      output.answerJson({ error: { name, code, httpStatus, details }, found, version: system.Version });
    });
    orthanc.registerRestCallback('/test/get-only', (output, _uri, request) => {
      if (request.method !== 'GET') return output.sendMethodNotAllowed('GET');
      output.answerBuffer('get', 'text/plain');
    });
    orthanc.registerRestCallback('/test/echo/([^/]+)/(.*)', (output, uri, request) => {
      output.answerJson({
        uri,
        method: request.method,
        groups: request.groups,
        get: request.get,
        header: request.headers['x-test'],
        body: request.body.toString(),
      });
    });
    orthanc.registerRestCallback('/test/stream', async (output) => {
      output.setHttpHeader('x-streamed', 'yes');
      output.startStreamAnswer('text/plain');
      for (let i = 0; i < 5; i += 1) await output.sendStreamChunk(`chunk ${i}\n`);
      await output.endStream();
    });
  },
});

describe('the HTTP front, against a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;
  let log: LineLog;
  let instanceId: string;
  let studyId: string;
  let patientId: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    for (const instance of generateCollection()) {
      const stored = await orthanc.upload(instance.file);
      instanceId = stored.ID;
      studyId = stored.ParentStudy;
      patientId = stored.ParentPatient;
    }
    ({ host, url, log } = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url },
        Recipes: { hello: { Enabled: true }, 'test-routes': { Enabled: true } },
      },
      [testRoutes],
    ));
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  it('serves hello\'s routes with text/plain "ok\\n", for any method', async () => {
    for (const [method, path] of [
      ['GET', '/toto'],
      ['GET', '/tata'],
      ['POST', '/toto'],
    ] as const) {
      const answer = await rawRequest(`${url}${path}`, { method, body: method === 'POST' ? 'x' : undefined });
      assert.equal(answer.status, 200, `${method} ${path}`);
      assert.equal(answer.headers['content-type'], 'text/plain');
      assert.equal(answer.body.toString(), 'ok\n');
    }
  });

  it('matches a route against the whole path: /totox and /tot go to Orthanc', async () => {
    for (const path of ['/totox', '/tot', '/toto/']) {
      const [viaHost, direct] = await Promise.all([rawRequest(`${url}${path}`), rawRequest(`${orthanc.url}${path}`)]);
      assert.equal(viaHost.status, 404, path);
      assert.deepEqual(viaHost.body, direct.body);
    }
  });

  it('proxies other requests transparently: same status, headers and bytes as Orthanc itself', async () => {
    const cases: { method?: string; path: string; headers?: Record<string, string>; body?: string }[] = [
      { path: '/system' },
      { path: '/patients' },
      { path: '/studies?expand' },
      { path: '/studies?expand', headers: { 'accept-encoding': 'gzip' } },
      { path: `/instances/${instanceId}` },
      { path: `/instances/${instanceId}/file` },
      { path: `/instances/${instanceId}/simplified-tags` },
      { path: `/instances/${instanceId}/preview` },
      { path: `/instances/${instanceId}/frames/0/raw` },
      { path: `/studies/${studyId}/archive`, headers: {} },
      { path: '/no/such/route' },
      { path: '/instances/unknown-id' },
      { method: 'PUT', path: '/system', body: '{}' },
      { method: 'POST', path: '/tools/find', body: JSON.stringify({ Level: 'Study', Query: { StudyDescription: '*CT*' }, Expand: true }) },
      { method: 'POST', path: '/tools/find', body: '{not json' },
      { method: 'POST', path: '/tools/lookup', body: 'RCP-001' },
      { method: 'HEAD', path: '/system' },
    ];
    for (const c of cases) {
      const options = { method: c.method, headers: c.headers, body: c.body };
      const direct = await rawRequest(`${orthanc.url}${c.path}`, options);
      const viaHost = await rawRequest(`${url}${c.path}`, options);
      const label = `${c.method ?? 'GET'} ${c.path} ${JSON.stringify(c.headers ?? {})}`;
      assert.equal(viaHost.status, direct.status, label);
      if (!c.path.endsWith('/archive')) {
        // A ZIP archive embeds the time it was made, so only its size is compared.
        assert.deepEqual(comparableHeaders(viaHost.headers), comparableHeaders(direct.headers), label);
        assert.ok(viaHost.body.equals(direct.body), `${label}: bodies differ`);
      } else {
        assert.equal(viaHost.body.length, direct.body.length, label);
      }
    }
  });

  it('proxies writes: PUT, POST and DELETE reach Orthanc with their bodies', async () => {
    const put = await rawRequest(`${url}/patients/${patientId}/protected`, { method: 'PUT', body: '1' });
    assert.equal(put.status, 200);
    assert.equal(await orthanc.json('GET', `/patients/${patientId}/protected`), 1);
    const before = (await orthanc.json('GET', '/instances')).length;
    const removed = await rawRequest(`${url}/instances/${instanceId}`, { method: 'DELETE' });
    assert.equal(removed.status, 200);
    assert.equal((await orthanc.json('GET', '/instances')).length, before - 1);
  });

  it('gives recipe handlers the method, groups, query, lower-case headers and body', async () => {
    const answer = await rawRequest(`${url}/test/echo/a%20b/c/d?x=1&y=two`, {
      method: 'POST',
      headers: { 'X-Test': 'yes' },
      body: 'payload',
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body.toString()), {
      uri: '/test/echo/a b/c/d',
      method: 'POST',
      groups: ['a b', 'c/d'],
      get: { x: '1', y: 'two' },
      header: 'yes',
      body: 'payload',
    });
  });

  it('streams a chunked answer with the headers set before it', async () => {
    const answer = await rawRequest(`${url}/test/stream`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-streamed'], 'yes');
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.equal(answer.body.toString(), [0, 1, 2, 3, 4].map((i) => `chunk ${i}\n`).join(''));
  });

  it('turns a throwing handler into a JSON 500 (nothing of the error in it) and a log line, and keeps serving', async () => {
    const answer = await rawRequest(`${url}/test/throw`);
    assert.equal(answer.status, 500);
    assert.match(String(answer.headers['content-type']), /application\/json/);
    assert.deepEqual(JSON.parse(answer.body.toString()), {
      HttpError: 'Internal Server Error',
      HttpStatus: 500,
      Message: "the recipe test-routes failed to answer; the host's log says why",
      Method: 'GET',
      Uri: '/test/throw',
      Code: 'internal-error',
    });
    await log.waitFor(/recipe test-routes: GET \/test\/throw failed: boom on purpose/);
    assert.equal((await rawRequest(`${url}/toto`)).status, 200);
  });

  it("keeps Orthanc's status for an Orthanc error thrown by a handler, without the URI the recipe called", async () => {
    const answer = await rawRequest(`${url}/test/orthanc-404`);
    assert.equal(answer.status, 404);
    const body = JSON.parse(answer.body.toString());
    assert.equal(body.HttpStatus, 404);
    assert.equal(body.Code, 'orthanc-error');
    assert.equal(body.Uri, '/test/orthanc-404');
    assert.doesNotMatch(answer.body.toString(), /no-such-instance/);
  });

  it("gives recipes restApi* calls with JSON helpers, and typed errors carrying Orthanc's status and details", async () => {
    const answer = JSON.parse((await rawRequest(`${url}/test/calls`)).body.toString());
    assert.equal(answer.error.name, 'OrthancHttpError');
    assert.equal(answer.error.code, 'ORC_ERR_ORTHANC_HTTP');
    assert.equal(answer.error.httpStatus, 404);
    assert.equal(answer.error.details.HttpStatus, 404);
    assert.equal(answer.error.details.OrthancError, 'Unknown resource');
    assert.equal(answer.error.details.Uri, '/no/such/route');
    assert.deepEqual(answer.found, await orthanc.json('POST', '/tools/find', { Level: 'Patient', Query: { PatientID: 'RCP-00*' } }));
    assert.ok(answer.found.length >= 2);
    assert.equal(answer.version, (await orthanc.json('GET', '/system')).Version);
  });

  it('answers 500 when a handler returns without answering, and 405 with Allow when it says so', async () => {
    assert.equal((await rawRequest(`${url}/test/silent`)).status, 500);
    const wrongMethod = await rawRequest(`${url}/test/get-only`, { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'GET');
  });

  it('describes itself at GET /recipes', async () => {
    const answer = await rawRequest(`${url}/recipes`);
    assert.equal(answer.status, 200);
    const body = JSON.parse(answer.body.toString());
    assert.match(body.Version, /^\d+\.\d+\.\d+/);
    assert.equal(body.Orthanc.Url, orthanc.url);
    assert.equal(body.Orthanc.Answers, true);
    assert.equal(body.Orthanc.Version, (await orthanc.json('GET', '/system')).Version);
    const hello = body.Recipes.find((r: { Id: string }) => r.Id === 'hello');
    assert.deepEqual(hello.Routes, ['* /(to)(t)o', '* /tata']);
    assert.ok(hello.Events.includes('ORTHANC_STARTED'));
    assert.equal(hello.Status, 'running');
    assert.equal((await rawRequest(`${url}/recipes`, { method: 'POST' })).status, 405);
  });
});

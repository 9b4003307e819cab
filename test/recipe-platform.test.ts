import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../host/index.js';
import { RecipeHttpError, defineRecipe } from '../shared/recipe.js';
import { generateStudy } from './helpers/dicom.js';
import { orthancPlugins } from './helpers/postgres.js';
import { startHostInProcess } from './helpers/host.js';
import { basicAuth, comparableHeaders, rawRequest } from './helpers/http.js';
import { startTestOrthanc, testOrthancRoot, type TestOrthanc } from './helpers/orthanc.js';

/**
 * What the platform does for a route, through the real front against a real Orthanc: 405 and
 * `Allow`, the one JSON error shape next to Orthanc's own, `output.passThrough()` (repeated query
 * arguments, a body, the caller's credentials). A Lua filter makes Orthanc refuse `viewer`
 * `/tools/find`: what passes through must be refused too (the host's own credentials would pass).
 */
const luaFilter = `
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  if username == 'viewer' and uri == '/tools/find' then return false end
  return true
end
`;

const probe = defineRecipe({
  meta: {
    id: 'platform-probe',
    title: 'Platform probe',
    description: 'Routes for the platform tests.',
    routes: ['GET /instances', 'GET /dicom-web/series', 'GET,HEAD /probe/head', 'GET /probe/orthanc-error', 'GET /probe/recipe-error'],
    events: [],
    destructive: false,
  },
  schema: { type: 'object', properties: {}, additionalProperties: false },
  setup({ orthanc }) {
    // Orthanc's own /instances, through the recipe: the pass-through under test.
    orthanc.registerRestCallback('/instances', (output) => output.passThrough(), { methods: ['GET'] });
    orthanc.registerRestCallback('/dicom-web/series', (output) => output.passThrough(), { methods: ['GET'] });
    orthanc.registerRestCallback('/probe/head', (output) => output.answerBuffer('head\n', 'text/plain'), { methods: ['GET', 'HEAD'] });
    // An error of Orthanc's, let through: a find with a Level Orthanc does not know.
    orthanc.registerRestCallback(
      '/probe/orthanc-error',
      async (output, _uri, request) => {
        output.answerJson(await request.orthanc.restApiPostJson('/tools/find', { Level: 'Foo', Query: {} }));
      },
      { methods: ['GET'] },
    );
    orthanc.registerRestCallback(
      '/probe/recipe-error',
      () => {
        throw new RecipeHttpError(400, 'bad-parameter', 'limit must be a whole number', { Parameter: 'limit' });
      },
      { methods: ['GET'] },
    );
  },
});

describe('recipe platform against a real Orthanc: methods, the error shape, passThrough', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;
  let folder: string;
  let hostDirectory: string;
  const admin = { authorization: basicAuth('admin', 'admin-pw') };
  const viewer = { authorization: basicAuth('viewer', 'viewer-pw') };
  const viaHost = (path: string, options: Parameters<typeof rawRequest>[1] = {}) =>
    rawRequest(`${url}${path}`, { ...options, headers: { ...admin, ...options.headers } });
  const direct = (path: string, options: Parameters<typeof rawRequest>[1] = {}) =>
    rawRequest(`${orthanc.url}${path}`, { ...options, headers: { ...admin, ...options.headers } });
  const json = (answer: { body: Buffer }) => JSON.parse(answer.body.toString()) as Record<string, unknown>;

  before(async () => {
    folder = await mkdtemp(join(testOrthancRoot ? join(testOrthancRoot, 'tmp') : tmpdir(), 'orthanc-recipes-platform-'));
    const seenByOrthanc = (path: string) => (testOrthancRoot ? `/${relative(testOrthancRoot, path)}` : path);
    await writeFile(join(folder, 'filter.lua'), luaFilter);
    orthanc = await startTestOrthanc({
      configuration: {
        AuthenticationEnabled: true,
        RegisteredUsers: { admin: 'admin-pw', viewer: 'viewer-pw' },
        LuaScripts: [seenByOrthanc(join(folder, 'filter.lua'))],
        Plugins: [orthancPlugins.dicomWeb],
      },
      credentials: { username: 'admin', password: 'admin-pw' },
    });
    const study = generateStudy({
      patientId: 'PLATFORM',
      patientName: 'Platform^Pat',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 3 }],
      size: 16,
    });
    for (const instance of study) await orthanc.upload(instance.file);
    const started = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url, Username: 'admin', Password: 'admin-pw' },
        Recipes: { 'metadata-find': { Enabled: true }, 'platform-probe': { Enabled: true } },
      },
      [probe],
    );
    host = started.host;
    url = started.url;
    hostDirectory = started.directory;
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
    if (hostDirectory) await rm(hostDirectory, { recursive: true, force: true });
  });

  it('answers an undeclared method with 405 and the Allow Orthanc gives for the same route, plus the JSON error shape', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const ours = await viaHost('/tools/find', { method });
      const orthancs = await direct('/tools/find', { method });
      assert.equal(orthancs.status, 405, 'the premise: Orthanc serves /tools/find with POST only');
      assert.equal(ours.status, 405, method);
      assert.equal(ours.headers.allow, orthancs.headers.allow);
      assert.deepEqual(json(ours), {
        HttpError: 'Method Not Allowed',
        HttpStatus: 405,
        Message: `${method} is not served here; this route serves POST`,
        Method: method,
        Uri: '/tools/find',
        Code: 'method-not-allowed',
      });
    }
  });

  it('serves HEAD where a route declares it; elsewhere 405 with Allow (Orthanc itself serves no HEAD: it answers 404)', async () => {
    assert.equal((await direct('/system', { method: 'HEAD' })).status, 404, 'the premise: Orthanc answers HEAD with 404');
    const head = await viaHost('/probe/head', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const onGetOnly = await viaHost('/probe/orthanc-error', { method: 'HEAD' });
    assert.equal(onGetOnly.status, 405);
    assert.equal(onGetOnly.headers.allow, 'GET');
    assert.equal((await viaHost('/probe/head', { method: 'POST', body: 'x' })).headers.allow, 'GET,HEAD');
  });

  it("answers an Orthanc error a recipe lets through with Orthanc's own fields, next to Orthanc's answer to the same request", async () => {
    const orthancs = await direct('/tools/find', { method: 'POST', body: JSON.stringify({ Level: 'Foo', Query: {} }) });
    const ours = await viaHost('/probe/orthanc-error');
    assert.equal(ours.status, orthancs.status);
    const expected = json(orthancs);
    assert.equal(expected.OrthancStatus, 3, 'the premise: ParameterOutOfRange');
    assert.deepEqual(json(ours), { ...expected, Method: 'GET', Uri: '/probe/orthanc-error', Code: 'orthanc-error' });
  });

  it("shapes a recipe's own error as Orthanc shapes its errors (same fields, same types), plus Code", async () => {
    const orthancs = json(await direct('/tools/find', { method: 'POST', body: 'not json' }));
    const ours = json(await viaHost('/probe/recipe-error?limit=x'));
    for (const field of ['HttpError', 'HttpStatus', 'Message', 'Method', 'Uri'])
      assert.equal(typeof ours[field], typeof orthancs[field], field);
    assert.deepEqual([ours.HttpError, ours.HttpStatus, orthancs.HttpError, orthancs.HttpStatus], ['Bad Request', 400, 'Bad Request', 400]);
    assert.deepEqual([ours.Code, ours.Parameter, ours.Uri], ['bad-parameter', 'limit', '/probe/recipe-error']);
  });

  it('passes repeated query arguments on in order: Orthanc answers through the recipe what it answers directly', async () => {
    // The DICOMweb plugin reads every `includefield`: keeping only the last would lose StudyDescription.
    const fieldsOf = (answer: { body: Buffer }) => Object.keys((JSON.parse(answer.body.toString()) as object[])[0]!).sort();
    const both = '/dicom-web/series?includefield=00081030&includefield=00080021';
    const orthancs = await direct(both);
    const ours = await viaHost(both);
    assert.equal(ours.status, 200, ours.body.toString());
    assert.deepEqual(fieldsOf(ours), fieldsOf(orthancs));
    assert.ok(fieldsOf(ours).includes('00081030') && fieldsOf(ours).includes('00080021'));
    assert.ok(
      !fieldsOf(await direct('/dicom-web/series?includefield=00080021')).includes('00081030'),
      'the premise: the last argument alone does not bring StudyDescription',
    );
    // Orthanc's core reads the last of repeated arguments (`limit=3` here); the same through the recipe.
    const paged = '/instances?since=0&limit=1&since=0&limit=3';
    const orthancPage = await direct(paged);
    const ourPage = await viaHost(paged);
    assert.ok(ourPage.body.equals(orthancPage.body), ourPage.body.toString());
    assert.deepEqual(comparableHeaders(ourPage.headers), comparableHeaders(orthancPage.headers));
  });

  it("passes a find without Metadata through metadata-find (a POST with a body, repeated arguments): Orthanc's answer byte for byte", async () => {
    for (const body of [
      '{"Level":"Instance","Query":{},"Expand":true}',
      '{"Level":"Series","Query":{"Modality":"CT"}}',
      '{"Level":"Foo"}',
    ]) {
      const path = '/tools/find?a=1&a=2&b=';
      const orthancs = await direct(path, { method: 'POST', body });
      const ours = await viaHost(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      assert.equal(ours.status, orthancs.status, body);
      assert.ok(ours.body.equals(orthancs.body), body);
    }
  });

  it("passes the caller's credentials, not the host's: what Orthanc refuses the caller is refused through passThrough", async () => {
    const body = '{"Level":"Study","Query":{}}';
    assert.equal(
      (await direct('/tools/find', { method: 'POST', body, headers: viewer })).status,
      403,
      'the premise: Orthanc refuses viewer /tools/find',
    );
    assert.equal((await direct('/system', { headers: viewer })).status, 200, 'the premise: Orthanc lets viewer in elsewhere');
    const refused = await rawRequest(`${url}/tools/find`, { method: 'POST', body, headers: viewer });
    assert.equal(refused.status, 403, 'passThrough as the caller');
    const withMetadata = await rawRequest(`${url}/tools/find`, {
      method: 'POST',
      body: JSON.stringify({ Level: 'Study', Query: {}, Metadata: { Reviewer: 'a' } }),
      headers: viewer,
    });
    assert.equal(withMetadata.status, 403, "metadata-find's own find as the caller");
    assert.equal(json(withMetadata).Code, 'orthanc-error');
    assert.equal((await viaHost('/tools/find', { method: 'POST', body })).status, 200, 'admin is let through');
    const anonymous = await rawRequest(`${url}/tools/find`, { method: 'POST', body });
    assert.equal(anonymous.status, 401, "no credentials: Orthanc's challenge, before the recipe");
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../host/index.js';
import { defineRecipe } from '../shared/recipe.js';
import { generateStudy } from './helpers/dicom.js';
import { startHostInProcess } from './helpers/host.js';
import { basicAuth, rawRequest } from './helpers/http.js';
import { startTestOrthanc, testOrthancRoot, type TestOrthanc } from './helpers/orthanc.js';

/**
 * Orthanc's own per-user rights, with no plugin: a Lua IncomingHttpRequestFilter refuses `viewer`
 * every URI naming the refused resources (their IDs, one a line, in a file read at each request)
 * and /jobs, and refuses anyone sending the token header `x-site-token: blocked`.
 */
const luaFilter = (refusedFile: string) => `
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  if httpHeaders['x-site-token'] == 'blocked' then return false end
  if username ~= 'viewer' then return true end
  if string.sub(uri, 1, 5) == '/jobs' then return false end
  local f = io.open('${refusedFile}', 'r')
  if f == nil then return true end
  for id in f:lines() do
    if id ~= '' and string.find(uri, id, 1, true) then
      f:close()
      return false
    end
  end
  f:close()
  return true
end
`;

/** A recipe whose filters the tests drive: one refuses `viewer` GET /system, one throws on demand. */
const seen: { uri: string; method: string; username: string | undefined; ip: string }[] = [];
const filterRecipe = defineRecipe({
  meta: { id: 'filter-probe', title: 'Filter probe', description: 'Test filters.', routes: [], events: [], destructive: false },
  schema: { type: 'object', properties: {}, additionalProperties: true },
  setup({ orthanc }) {
    orthanc.registerIncomingHttpRequestFilter((uri, { method, username, ip }) => {
      seen.push({ uri, method, username, ip });
      return !(uri === '/system' && username === 'viewer');
    });
    orthanc.registerIncomingHttpRequestFilter((_uri, { headers }) => {
      if (headers['x-test-filter'] === 'throw') throw new Error('this filter failed');
      if (headers['x-test-filter'] === 'undefined') return undefined as unknown as boolean;
      return true;
    });
  },
});

describe('recipes act as the caller: per-user rights of a Lua filter', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;
  let folder: string;
  let hostDirectory: string;
  const admin = { authorization: basicAuth('admin', 'admin-pw') };
  const viewer = { authorization: basicAuth('viewer', 'viewer-pw') };
  const refused = { study: '', series: '', instances: [] as string[], studyUid: '' };
  const allowed = { study: '', series: '', instance: '', studyUid: '' };

  const get = (path: string, headers: Record<string, string>) => rawRequest(`${url}${path}`, { headers });
  const post = (path: string, headers: Record<string, string>, body: unknown = '') =>
    rawRequest(`${url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  before(async () => {
    folder = await mkdtemp(join(testOrthancRoot ? join(testOrthancRoot, 'tmp') : tmpdir(), 'orthanc-recipes-caller-'));
    const seenByOrthanc = (path: string) => (testOrthancRoot ? `/${relative(testOrthancRoot, path)}` : path);
    const refusedFile = join(folder, 'refused.txt');
    await writeFile(refusedFile, '');
    await writeFile(join(folder, 'filter.lua'), luaFilter(seenByOrthanc(refusedFile)));
    orthanc = await startTestOrthanc({
      configuration: {
        AuthenticationEnabled: true,
        RegisteredUsers: { admin: 'admin-pw', viewer: 'viewer-pw' },
        LuaScripts: [seenByOrthanc(join(folder, 'filter.lua'))],
        UserMetadata: { Reviewer: 1024 },
        DicomModalities: { nowhere: ['NOWHERE', '127.0.0.1', 1] },
      },
      credentials: { username: 'admin', password: 'admin-pw' },
    });
    const studyA = generateStudy({
      patientId: 'CALLER-A',
      patientName: 'Refused^Ruth',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 2 }],
      size: 16,
    });
    const studyB = generateStudy({
      patientId: 'CALLER-B',
      patientName: 'Allowed^Al',
      studyDate: '20240102',
      series: [{ modality: 'CT', instances: 1 }],
      size: 16,
    });
    for (const instance of studyA) {
      const stored = await orthanc.upload(instance.file);
      Object.assign(refused, { study: stored.ParentStudy, series: stored.ParentSeries, studyUid: instance.studyInstanceUid });
      refused.instances.push(stored.ID);
    }
    const storedB = await orthanc.upload(studyB[0]!.file);
    Object.assign(allowed, {
      study: storedB.ParentStudy,
      series: storedB.ParentSeries,
      instance: storedB.ID,
      studyUid: studyB[0]!.studyInstanceUid,
    });
    for (const study of [refused.study, allowed.study]) await orthanc.json('PUT', `/studies/${study}/metadata/Reviewer`, 'alice');
    await writeFile(refusedFile, [refused.study, refused.series, ...refused.instances].join('\n') + '\n');

    const started = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url, Username: 'admin', Password: 'admin-pw' },
        HttpServer: { ForwardedAuthHeaders: ['x-site-token'] },
        Recipes: {
          thumbnails: { Enabled: true },
          'dicom-dump': { Enabled: true },
          'metadata-find': { Enabled: true, MetadataIndex: true },
          autorouting: {
            Enabled: true,
            DryRun: true,
            Rules: [{ Destinations: ['nowhere'], Filter: { StudyDescription: 'NOTHING-MATCHES-THIS' } }],
          },
          scheduler: { Enabled: true, Tasks: [{ Name: 'ping', Schedule: '0 0 1 1 *', Request: { Uri: '/system' } }] },
          'filter-probe': { Enabled: true },
        },
      },
      [filterRecipe],
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

  it('Orthanc itself refuses viewer the study, its series and instances, and /jobs (the premise)', async () => {
    const direct = (path: string, headers: Record<string, string>) => rawRequest(`${orthanc.url}${path}`, { headers });
    assert.equal((await direct(`/studies/${refused.study}`, viewer)).status, 403);
    assert.equal((await direct(`/series/${refused.series}`, viewer)).status, 403);
    assert.equal((await direct(`/instances/${refused.instances[0]}`, viewer)).status, 403);
    assert.equal((await direct('/jobs', viewer)).status, 403);
    assert.equal((await direct(`/studies/${allowed.study}`, viewer)).status, 200);
    assert.equal((await direct(`/studies/${refused.study}`, admin)).status, 200);
  });

  const recipeRoutes = () => [
    `/instances/${refused.instances[0]}/thumbnail`,
    `/series/${refused.series}/thumbnail`,
    `/studies/${refused.study}/thumbnail`,
    `/instances/${refused.instances[0]}/dcmjs`,
  ];
  const findRefused = () => ({ Level: 'Study', Query: {}, Metadata: { Reviewer: '.*' }, Expand: true });
  const findRefusedIds = () => ({ Level: 'Study', Query: { StudyInstanceUID: refused.studyUid }, Metadata: { Reviewer: '.*' } });

  it('gives viewer 403 from thumbnails, dcmjs and /tools/find on what Orthanc refuses, cold', async () => {
    for (const path of recipeRoutes()) {
      const answer = await get(path, viewer);
      assert.equal(answer.status, 403, `${path}: ${answer.body.toString()}`);
      assert.match(String(answer.headers['content-type']), /json/, path);
    }
    assert.equal((await post('/tools/find', viewer, findRefused())).status, 403);
    assert.equal((await post('/tools/find', viewer, findRefusedIds())).status, 403);
  });

  it('gives admin 200 on the same routes, which warms the caches', async () => {
    for (const path of recipeRoutes()) assert.equal((await get(path, admin)).status, 200, path);
    const thumbnail = await get(`/instances/${refused.instances[0]}/thumbnail`, admin);
    assert.equal(thumbnail.headers['x-cache'], 'HIT', 'the thumbnail is cached now');
    const found = await post('/tools/find', admin, findRefused());
    assert.equal(found.status, 200);
    assert.equal(JSON.parse(found.body.toString()).length, 2);
    const ids = await post('/tools/find', admin, findRefusedIds());
    assert.deepEqual(JSON.parse(ids.body.toString()), [refused.study]);
  });

  it('still gives viewer 403 once admin has warmed the caches, and 304 is no way round', async () => {
    for (const path of recipeRoutes()) assert.equal((await get(path, viewer)).status, 403, path);
    const etag = String((await get(`/instances/${refused.instances[0]}/thumbnail`, admin)).headers.etag);
    assert.equal((await get(`/instances/${refused.instances[0]}/thumbnail`, { ...viewer, 'if-none-match': etag })).status, 403);
    assert.equal((await post('/tools/find', viewer, findRefused())).status, 403);
    assert.equal((await post('/tools/find', viewer, findRefusedIds())).status, 403);
  });

  it('serves viewer what Orthanc lets them see', async () => {
    for (const path of [
      `/instances/${allowed.instance}/thumbnail`,
      `/series/${allowed.series}/thumbnail`,
      `/studies/${allowed.study}/thumbnail`,
      `/instances/${allowed.instance}/dcmjs`,
    ]) {
      assert.equal((await get(path, viewer)).status, 200, path);
    }
    const found = await post('/tools/find', viewer, {
      Level: 'Study',
      Query: { StudyInstanceUID: allowed.studyUid },
      Metadata: { Reviewer: '.*' },
      Expand: true,
    });
    assert.equal(found.status, 200, found.body.toString());
    assert.deepEqual(
      JSON.parse(found.body.toString()).map((s: { ID: string }) => s.ID),
      [allowed.study],
    );
  });

  it('forwards the token headers of HttpServer.ForwardedAuthHeaders', async () => {
    const path = `/instances/${allowed.instance}/dcmjs`;
    assert.equal((await get(path, admin)).status, 200);
    assert.equal((await get(path, { ...admin, 'x-site-token': 'blocked' })).status, 403, 'Orthanc saw the token');
    assert.equal(
      (await get(`/instances/${allowed.instance}/thumbnail`, { ...admin, 'x-site-token': 'blocked' })).status,
      403,
      'a cached thumbnail too',
    );
  });

  it('allows host actions only to a caller who passes the probe GET /jobs', async () => {
    const actions: [string, string][] = [
      ['POST', '/recipes/autorouting/retry'],
      ['POST', '/recipes/scheduler/tasks/ping/run'],
      ['GET', '/recipes/autorouting/status'],
      ['GET', '/recipes/scheduler/tasks'],
      ['GET', '/recipes'],
    ];
    for (const [method, path] of actions) {
      const send = (headers: Record<string, string>) => (method === 'POST' ? post(path, headers) : get(path, headers));
      const refusedAnswer = await send(viewer);
      assert.equal(refusedAnswer.status, 403, `${method} ${path} as viewer`);
      assert.match(refusedAnswer.body.toString(), /host action/);
      const none = await send({});
      assert.equal(none.status, 401, `${method} ${path} without credentials`);
      assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
      const granted = await send(admin);
      assert.ok(granted.status === 200 || granted.status === 202, `${method} ${path} as admin: ${granted.status}`);
    }
  });

  it('runs the filters on every request, proxied or not, with the user name Orthanc accepted', async () => {
    seen.length = 0;
    assert.equal((await get('/system', admin)).status, 200);
    const refusedSystem = await get('/system', viewer);
    assert.equal(refusedSystem.status, 403, 'a proxied request refused by a filter');
    assert.match(refusedSystem.body.toString(), /filter-probe/);
    assert.equal((await get(`/studies/${allowed.study}`, viewer)).status, 200);
    assert.deepEqual(
      seen.map(({ uri, method, username }) => [method, uri, username]),
      [
        ['GET', '/system', 'admin'],
        ['GET', '/system', 'viewer'],
        ['GET', `/studies/${allowed.study}`, 'viewer'],
      ],
    );
    assert.ok(seen.every(({ ip }) => /127\.0\.0\.1/.test(ip)));
    seen.length = 0;
    const forged = await get('/system', { authorization: basicAuth('viewer', 'not-the-password') });
    assert.equal(forged.status, 401, 'credentials Orthanc refuses get its challenge before any filter, as in Orthanc');
    assert.match(String(forged.headers['www-authenticate']), /^Basic realm=/);
    assert.deepEqual(seen, []);
  });

  it('refuses with 403 when a filter throws or answers anything but true, on recipe routes too', async () => {
    for (const mode of ['throw', 'undefined']) {
      for (const path of ['/system', `/instances/${allowed.instance}/thumbnail`, '/recipes']) {
        const answer = await get(path, { ...admin, 'x-test-filter': mode });
        assert.equal(answer.status, 403, `${mode} ${path}`);
        assert.equal(JSON.parse(answer.body.toString()).HttpStatus, 403);
      }
    }
    assert.equal((await get('/system', admin)).status, 200, 'the host carries on');
  });
});

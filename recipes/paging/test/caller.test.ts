import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { basicAuth, rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, testOrthancRoot, type TestOrthanc } from '../../../test/helpers/orthanc.js';

/**
 * Orthanc's own per-user rights, with no plugin: `viewer` may log in (`/system`) but Orthanc
 * refuses it every study read (`/tools/find`, `/tools/count-resources`, `/studies...`).
 */
const luaFilter = `
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  if username ~= 'viewer' then return true end
  if string.sub(uri, 1, 6) == '/tools' or string.sub(uri, 1, 8) == '/studies' then return false end
  return true
end
`;

describe("recipe paging acts with the caller's rights (a Lua filter refuses `viewer` the studies)", { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let folder: string;
  const hosts: Record<'index' | 'auto', HostProcess | undefined> = { index: undefined, auto: undefined };
  const studyIds: string[] = [];
  const admin = { authorization: basicAuth('admin', 'admin-pw') };
  const viewer = { authorization: basicAuth('viewer', 'viewer-pw') };
  const page = (host: HostProcess, query: string, headers: Record<string, string>) =>
    rawRequest(`${host.url}/sort-studies${query}`, { headers });

  before(async () => {
    folder = await mkdtemp(join(testOrthancRoot ? join(testOrthancRoot, 'tmp') : tmpdir(), 'orthanc-recipes-paging-'));
    await writeFile(join(folder, 'filter.lua'), luaFilter);
    orthanc = await startTestOrthanc({
      configuration: {
        AuthenticationEnabled: true,
        RegisteredUsers: { admin: 'admin-pw', viewer: 'viewer-pw' },
        LuaScripts: [testOrthancRoot ? `/${relative(testOrthancRoot, join(folder, 'filter.lua'))}` : join(folder, 'filter.lua')],
      },
      credentials: { username: 'admin', password: 'admin-pw' },
    });
    for (const date of ['20240101', '20240102', '20240103']) {
      const [instance] = generateStudy({
        patientId: `PGC-${date}`,
        patientName: 'Hidden^Patient',
        studyDate: date,
        series: [{ modality: 'CT', instances: 1 }],
        size: 8,
      });
      studyIds.push((await orthanc.upload(instance!.file)).ParentStudy);
    }
    const orthancConfig = { Url: orthanc.url, Username: 'admin', Password: 'admin-pw' };
    hosts.index = await startHostProcess({ Orthanc: orthancConfig, Recipes: { paging: { Enabled: true, Engine: 'index' } } });
    hosts.auto = await startHostProcess({ Orthanc: orthancConfig, Recipes: { paging: { Enabled: true } } });
    for (const host of [hosts.index, hosts.auto])
      await eventually(async () => (await page(host, '', admin)).status === 200, 30_000, 'the first page');
  });

  after(async () => {
    await hosts.index?.stop();
    await hosts.auto?.stop();
    await orthanc?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  for (const engine of ['index', 'auto'] as const) {
    it(`${engine}: a caller Orthanc lets in but refuses the studies gets Orthanc's 403, no study, no total`, async () => {
      const host = hosts[engine]!;
      const allowed = await page(host, '?limit=10', admin);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['x-total-count'], '3');
      assert.deepEqual((JSON.parse(allowed.body.toString()) as { ID: string }[]).map((study) => study.ID).sort(), [...studyIds].sort());
      for (const query of ['?limit=10', '?sort=PatientName&order=desc', '?offset=100']) {
        const refused = await page(host, query, viewer);
        assert.equal(refused.status, 403, `${engine} ${query}: ${refused.body.toString()}`);
        assert.equal(refused.headers['x-total-count'], undefined, 'not even the total');
        const body = refused.body.toString();
        for (const id of studyIds) assert.ok(!body.includes(id), 'no study ID');
        assert.doesNotMatch(body, /Hidden\^Patient|PGC-/);
      }
    });
  }

  it('credentials Orthanc refuses outright: its challenge (401), no study', async () => {
    for (const headers of [{}, { authorization: basicAuth('viewer', 'wrong') }] as Record<string, string>[]) {
      const refused = await page(hosts.index!, '', headers);
      assert.equal(refused.status, 401);
      assert.doesNotMatch(refused.body.toString(), /Hidden\^Patient|PGC-/);
    }
  });
});

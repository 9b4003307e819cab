import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { getFreePort } from '../../../host/index.js';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { defineRecipe } from '../../../shared/recipe.js';
import { cliPath, startHostInProcess, startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, testOrthancRoot, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { orthancInstanceId } from '../orthanc-id.js';

const run = promisify(execFile);

/**
 * Sends files by C-STORE as `aet`, in one association; resolves with the status storescu received
 * for each file, in order (`Success`, `Refused: OutOfResources`, …), and its whole output; a
 * refusal does not stop the others (`--no-halt`).
 */
async function storescu(orthanc: TestOrthanc, aet: string, files: Buffer[]): Promise<{ statuses: string[]; output: string }> {
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-storescu-'));
  const paths = await Promise.all(
    files.map(async (file, index) => (await writeFile(join(folder, `${index}.dcm`), file), join(folder, `${index}.dcm`))),
  );
  let output: string;
  try {
    const { stdout, stderr } = await run('storescu', [
      '-v',
      '--no-halt',
      '-aet',
      aet,
      '-aec',
      orthanc.process.aet,
      '127.0.0.1',
      String(orthanc.process.dicomPort),
      ...paths,
    ]);
    output = stdout + stderr;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    output = stdout + stderr;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  return { statuses: [...output.matchAll(/Received Store Response \(([^)]*)\)/g)].map((match) => match[1]!), output };
}

const REFUSED = 'Refused: OutOfResources';

/**
 * Sends one C-FIND (`-S` study root, `-W` worklist) as `aet`; resolves with the PatientIDs of the
 * answers, findscu's final status (`Success`, `Failed: UnableToProcess`, …) and its output.
 */
async function findscu(
  orthanc: TestOrthanc,
  aet: string,
  model: '-S' | '-W',
  keys: string[],
): Promise<{ patientIds: string[]; final: string | undefined; output: string }> {
  let output: string;
  try {
    const { stdout, stderr } = await run('findscu', [
      '-v',
      model,
      '-aet',
      aet,
      '-aec',
      orthanc.process.aet,
      ...keys.flatMap((key) => ['-k', key]),
      '127.0.0.1',
      String(orthanc.process.dicomPort),
    ]);
    output = stdout + stderr;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    output = stdout + stderr;
  }
  // Each answer is printed after "Find Response: n (Pending)", the request's keys before them.
  const answers = output.split(/Find Response: \d+ \(Pending\)/).slice(1);
  const patientIds = answers.map((answer) => /\(0010,0020\) LO \[([^\]]*)\]/.exec(answer)?.[1]?.trim() ?? '?').sort();
  return { patientIds, final: /Received Final Find Response \(([^)]*)\)/.exec(output)?.[1], output };
}

const UNABLE = 'Failed: UnableToProcess';
const worklistPlugin = '/usr/share/orthanc/plugins/libModalityWorklists.so';

const study = (modality: 'CT' | 'MR', patientId: string, instances = 1) =>
  generateStudy({ patientId, patientName: 'Filter^Test', studyDate: '20240101', series: [{ modality, instances }] });

const exists = async (orthanc: TestOrthanc, id: string) => (await fetch(`${orthanc.url}/instances/${id}`)).status === 200;

describe('receive-filter and the Lua bridge, against a real Orthanc running the generated script', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess | undefined;
  let folder: string;
  let configFile: string;
  let bridgePort: number;
  let script: string;

  /** The host's configuration: the filter recipe and a recipe that records deletions. */
  const configuration = (whenHostDown: 'Accept' | 'Reject') => ({
    Orthanc: { Url: orthanc?.url ?? 'http://127.0.0.1:1' },
    StateDirectory: './state',
    Bridge: {
      Port: bridgePort,
      WhenHostDown: {
        ReceivedInstanceFilter: whenHostDown,
        ReceivedCStoreInstanceFilter: whenHostDown,
        IncomingFindRequestFilter: whenHostDown,
        IncomingWorklistRequestFilter: whenHostDown,
      },
    },
    Recipes: {
      'receive-filter': {
        Enabled: true,
        Rules: [
          { Action: 'Accept', Filter: { RemoteAET: 'TRUSTED' } },
          { Action: 'Reject', Filter: { Modality: 'MR' } },
          { Action: 'Reject', Filter: { Origin: 'RestApi', StudyDescription: 'SCREENING*' } },
        ],
        Quota: { MaxInstancesPerRemoteAet: 3 },
        FindRestrictions: [{ RemoteAET: 'VIEWER*', Filter: { StudyDescription: 'NORTH*' } }],
      },
      'deletion-listener': { Enabled: true, Module: './deletion-listener.js' },
      'worklist-narrower': { Enabled: true, Module: './worklist-narrower.js' },
    },
  });

  /** Writes the configuration, then the Lua script through the CLI, as an administrator would. */
  const writeScript = async (whenHostDown: 'Accept' | 'Reject') => {
    await writeFile(configFile, JSON.stringify(configuration(whenHostDown), null, 2));
    const { stderr } = await run(process.execPath, [cliPath, 'bridge', '--config', configFile, '--output', script]);
    assert.match(stderr, /wrote .*bridge\.lua/);
  };

  before(async () => {
    // Inside the Orthanc root when the tests run Orthanc 1.12 under chroot: Orthanc reads the script.
    const parent = testOrthancRoot ? join(testOrthancRoot, 'tmp') : tmpdir();
    folder = await mkdtemp(join(parent, 'orthanc-recipes-bridge-'));
    configFile = join(folder, 'orthanc-recipes.json');
    script = join(folder, 'bridge.lua');
    bridgePort = await getFreePort();
    await writeFile(
      join(folder, 'deletion-listener.js'),
      `import { defineRecipe } from ${JSON.stringify(new URL('../../../shared/recipe.js', import.meta.url).href)};
export default defineRecipe({
  meta: { id: 'deletion-listener', title: 'Deletions', description: 'Logs deletions.', routes: [], events: ['DELETED'], destructive: false },
  schema: { type: 'object', properties: {}, additionalProperties: false },
  setup({ orthanc, log }) {
    orthanc.registerOnChangeCallback((changeType, resourceType, id) => log.info('DELETED ' + resourceType + ' ' + id), { types: ['DELETED'] });
  },
});
`,
    );
    // A worklist filter: WLBAD is refused, WLNARROW only ever sees patient WL2.
    await writeFile(
      join(folder, 'worklist-narrower.js'),
      `import { defineRecipe } from ${JSON.stringify(new URL('../../../shared/recipe.js', import.meta.url).href)};
export default defineRecipe({
  meta: { id: 'worklist-narrower', title: 'Worklists', description: 'Narrows worklist queries.', routes: [], events: [], bridge: ['IncomingWorklistRequestFilter'], destructive: false },
  schema: { type: 'object', properties: {}, additionalProperties: false },
  setup({ orthanc }) {
    orthanc.registerIncomingWorklistRequestFilter(async (query, origin) => {
      if (origin.remoteAet === 'WLBAD') return null;
      return origin.remoteAet === 'WLNARROW' ? { ...query, '0010,0020': 'WL2' } : query;
    });
  },
});
`,
    );
    const worklists = join(folder, 'worklists');
    await mkdir(worklists);
    for (const patientId of ['WL1', 'WL2']) {
      const dump = join(folder, `${patientId}.dump`);
      await writeFile(
        dump,
        [
          '(0010,0010) PN [Worklist^Test]',
          `(0010,0020) LO [${patientId}]`,
          '(0040,0100) SQ (Sequence with undefined length)',
          '(fffe,e000) na (Item with undefined length)',
          '(0008,0060) CS [CT]',
          '(fffe,e00d) na (ItemDelimitationItem)',
          '(fffe,e0dd) na (SequenceDelimitationItem)',
          '',
        ].join('\n'),
      );
      await run('dump2dcm', [dump, join(worklists, `${patientId}.wl`)]);
    }
    await writeScript('Accept');
    const seen = (path: string) => (testOrthancRoot ? `/${relative(testOrthancRoot, path)}` : path);
    const withWorklists = existsSync(join(testOrthancRoot ?? '/', worklistPlugin))
      ? { Plugins: [worklistPlugin], Worklists: { Enable: true, Database: seen(worklists) } }
      : {};
    orthanc = await startTestOrthanc({
      configuration: { LuaScripts: [seen(script)], DicomAlwaysAllowFind: true, DicomAlwaysAllowFindWorklist: true, ...withWorklists },
    });
    await writeFile(configFile, JSON.stringify(configuration('Accept'), null, 2));
    host = await startHostProcess(configuration('Accept'), folder);
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  it('computes the Orthanc ID an instance will have, as Orthanc does', async () => {
    const [instance] = study('CT', 'ID-CHECK');
    const stored = await orthanc.upload(instance!.file);
    assert.equal(
      orthancInstanceId({
        PatientID: 'ID-CHECK',
        StudyInstanceUID: instance!.studyInstanceUid,
        SeriesInstanceUID: instance!.seriesInstanceUid,
        SOPInstanceUID: instance!.sopInstanceUid,
      }),
      stored.ID,
    );
  });

  it('REST uploads: a rule refuses (never stored), other instances are kept', async () => {
    const [ct] = study('CT', 'REST-OK');
    const [mr] = study('MR', 'REST-MR');
    assert.equal((await orthanc.upload(ct!.file)).Status, 'Success');
    const refused = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: mr!.file });
    const answer = (await refused.json()) as { Status?: string; ID?: string };
    assert.equal(answer.Status, 'FilteredOut', JSON.stringify(answer));
    assert.equal(
      await exists(
        orthanc,
        orthancInstanceId({
          PatientID: 'REST-MR',
          StudyInstanceUID: mr!.studyInstanceUid,
          SeriesInstanceUID: mr!.seriesInstanceUid,
          SOPInstanceUID: mr!.sopInstanceUid,
        }),
      ),
      false,
    );
    await host!.log.waitFor(/receive-filter\] refused instance instance=[0-9a-f-]{44} reason="rule 1 \(REST_API\)/);
    assert.ok(!host!.log.lines.join('\n').includes('REST-MR'), 'no PatientID in the log');
  });

  it('C-STORE: a refused instance is never stored and the modality hears 0xA700; an accepting rule wins over later ones; the quota per sending AET', async () => {
    const [mr] = study('MR', 'DIMSE-MR');
    const refused = await storescu(orthanc, 'SCANNER', [mr!.file]);
    assert.deepEqual(refused.statuses, [REFUSED], refused.output);
    assert.equal(
      await exists(
        orthanc,
        orthancInstanceId({
          PatientID: 'DIMSE-MR',
          StudyInstanceUID: mr!.studyInstanceUid,
          SeriesInstanceUID: mr!.seriesInstanceUid,
          SOPInstanceUID: mr!.sopInstanceUid,
        }),
      ),
      false,
    );
    await host!.log.waitFor(/receive-filter\] refused instance instance=[0-9a-f-]{44} reason="rule 1 \(DICOM_PROTOCOL from SCANNER\)/);

    const [trusted] = study('MR', 'DIMSE-TRUSTED');
    const accepted = await storescu(orthanc, 'TRUSTED', [trusted!.file]);
    assert.deepEqual(accepted.statuses, ['Success'], accepted.output);
    assert.equal(
      await exists(
        orthanc,
        orthancInstanceId({
          PatientID: 'DIMSE-TRUSTED',
          StudyInstanceUID: trusted!.studyInstanceUid,
          SeriesInstanceUID: trusted!.seriesInstanceUid,
          SOPInstanceUID: trusted!.sopInstanceUid,
        }),
      ),
      true,
    );

    const five = study('CT', 'QUOTA', 5);
    const quota = await storescu(
      orthanc,
      'QUOTAAET',
      five.map((i) => i.file),
    );
    assert.deepEqual(quota.statuses, ['Success', 'Success', 'Success', REFUSED, REFUSED], quota.output);
    const kept = await Promise.all(
      five.map((i) =>
        exists(
          orthanc,
          orthancInstanceId({
            PatientID: 'QUOTA',
            StudyInstanceUID: i.studyInstanceUid,
            SeriesInstanceUID: i.seriesInstanceUid,
            SOPInstanceUID: i.sopInstanceUid,
          }),
        ),
      ),
    );
    assert.deepEqual(kept, [true, true, true, false, false]);
    const status = JSON.parse((await rawRequest(`${host!.url}/recipes/receive-filter/status`)).body.toString()) as {
      Quota: { Used: Record<string, number> };
      RefusedByQuota: number;
    };
    assert.equal(status.Quota.Used.QUOTAAET, 3);
    assert.equal(status.RefusedByQuota, 2);
  });

  it('refuses calls without the secret, from loopback too', async () => {
    for (const headers of [{}, { 'x-orthanc-recipes-bridge': 'wrong' }] as Record<string, string>[]) {
      const answer = await rawRequest(`http://127.0.0.1:${bridgePort}/bridge/received-instance`, { method: 'POST', headers, body: '{}' });
      assert.equal(answer.status, 403);
    }
  });

  it('names a script made for other hooks (an error while a hook is missing), and forgets it once Orthanc runs the right one', async () => {
    const recipes = async () => (await (await fetch(`${host!.url}/recipes`)).json()) as { Bridge: Record<string, unknown> };
    // Orthanc's own calls come from the generated script: no mismatch.
    const callsBefore = (await recipes()).Bridge.Calls as number;
    const [ct] = study('CT', 'HOOKS-OK');
    assert.equal((await orthanc.upload(ct!.file)).Status, 'Success');
    assert.ok(((await recipes()).Bridge.Calls as number) > callsBefore, 'Orthanc called the bridge');
    assert.equal((await recipes()).Bridge.ScriptMismatch, undefined);
    const secret = /'x-orthanc-recipes-bridge'\] = '([0-9a-f]{64})'/.exec(await readFile(script, 'utf8'))![1]!;
    const [, expected] = /'x-orthanc-recipes-bridge-hooks'\] = '([^']*)'/.exec(await readFile(script, 'utf8'))!;
    const findCall = (hooks: string | undefined) =>
      rawRequest(`http://127.0.0.1:${bridgePort}/bridge/find-request`, {
        method: 'POST',
        headers: { 'x-orthanc-recipes-bridge': secret, ...(hooks === undefined ? {} : { 'x-orthanc-recipes-bridge-hooks': hooks }) },
        body: JSON.stringify({ query: { '0010,0020': 'X' }, origin: { RemoteAet: 'ELSEWHERE' } }),
      });
    // A script generated before FindRestrictions existed: receptions and deletions only.
    const stale = expected!.split(',').filter((hook) => hook !== 'IncomingFindRequestFilter');
    assert.equal((await findCall([...stale, 'OnUpdated'].join(','))).status, 200, 'still answered');
    await host!.log.waitFor(/^E .*bridge\] Orthanc's bridge script lacks hooks .* missing=IncomingFindRequestFilter unused=OnUpdated$/);
    assert.deepEqual((await recipes()).Bridge.ScriptMismatch, { Missing: ['IncomingFindRequestFilter'], Unused: ['OnUpdated'] });
    await findCall(undefined);
    await host!.log.waitFor(/bridge\] Orthanc's bridge script does not say which hooks it defines/);
    // Each distinct script is said once, and a flood of them (the secret holder gone wrong) stays bounded.
    for (let n = 0; n < 40; n += 1) assert.equal((await findCall(`Made${n}`)).status, 200);
    const said = () => host!.log.lines.filter((line) => /bridge\] Orthanc's bridge script (lacks|does not say)/.test(line)).length;
    assert.ok(said() <= 16, `${said()} lines`);
    await findCall(expected);
    await host!.log.waitFor(/bridge\] Orthanc's bridge script now defines the hooks the enabled recipes need$/);
    assert.equal((await recipes()).Bridge.ScriptMismatch, undefined);
  });

  it('C-FIND: a restricted calling AET finds only what its restriction allows; a query outside it is refused', async () => {
    await orthanc.upload(
      generateStudy({
        patientId: 'FIND-N',
        patientName: 'Find^North',
        studyDate: '20240101',
        studyDescription: 'NORTH CT',
        series: [{ modality: 'CT', instances: 1 }],
      })[0]!.file,
    );
    await orthanc.upload(
      generateStudy({
        patientId: 'FIND-S',
        patientName: 'Find^South',
        studyDate: '20240101',
        studyDescription: 'SOUTH CT',
        series: [{ modality: 'CT', instances: 1 }],
      })[0]!.file,
    );
    const study = (aet: string, ...keys: string[]) =>
      findscu(orthanc, aet, '-S', ['QueryRetrieveLevel=STUDY', 'PatientID=FIND-*', ...keys]);

    const unrestricted = await study('OTHER', 'StudyDescription');
    assert.deepEqual([unrestricted.patientIds, unrestricted.final], [['FIND-N', 'FIND-S'], 'Success'], unrestricted.output);
    const restricted = await study('VIEWER1', 'StudyDescription');
    assert.deepEqual([restricted.patientIds, restricted.final], [['FIND-N'], 'Success'], restricted.output);
    const withoutTheKey = await study('VIEWER1');
    assert.deepEqual(withoutTheKey.patientIds, ['FIND-N'], 'a key the caller does not ask for is imposed too');
    const exact = await study('VIEWER1', 'StudyDescription=NORTH CT');
    assert.deepEqual([exact.patientIds, exact.final], [['FIND-N'], 'Success'], exact.output);

    for (const keys of [['StudyDescription=SOUTH*'], ['StudyDescription=*CT']]) {
      const outside = await study('VIEWER1', ...keys);
      assert.deepEqual([outside.patientIds, outside.final], [[], UNABLE], outside.output);
    }
    const patients = await findscu(orthanc, 'VIEWER1', '-S', ['QueryRetrieveLevel=PATIENT', 'PatientID=FIND-*']);
    assert.deepEqual([patients.patientIds, patients.final], [[], UNABLE], 'a patient-level query would escape a study-level restriction');
    const status = JSON.parse((await rawRequest(`${host!.url}/recipes/receive-filter/status`)).body.toString()) as {
      RefusedQueries: number;
    };
    assert.equal(status.RefusedQueries, 3);
    await host!.log.waitFor(
      /receive-filter\] refused a C-FIND aet=VIEWER1 reason="its own StudyDescription constraint is not within the restriction"/,
    );
  });

  it(
    "worklist C-FIND: a filter narrows or refuses the query before Orthanc's worklist plugin answers",
    { skip: !existsSync(join(testOrthancRoot ?? '/', worklistPlugin)) && 'no worklist plugin' },
    async () => {
      const keys = ['PatientID', 'PatientName', '(0040,0100)[0].Modality'];
      const all = await findscu(orthanc, 'WLANY', '-W', keys);
      assert.deepEqual([all.patientIds, all.final], [['WL1', 'WL2'], 'Success'], all.output);
      const narrowed = await findscu(orthanc, 'WLNARROW', '-W', keys);
      assert.deepEqual([narrowed.patientIds, narrowed.final], [['WL2'], 'Success'], narrowed.output);
      const refused = await findscu(orthanc, 'WLBAD', '-W', keys);
      assert.deepEqual([refused.patientIds, refused.final], [[], UNABLE], refused.output);
    },
  );

  it('delivers deletions at every level to DELETED listeners', async () => {
    const instances = study('CT', 'DELETE-ME', 2);
    const stored = [];
    for (const instance of instances) stored.push(await orthanc.upload(instance.file));
    await orthanc.json('DELETE', `/instances/${stored[0]!.ID}`);
    await host!.log.waitFor(new RegExp(`deletion-listener\\] DELETED 3 ${stored[0]!.ID}`));
    await orthanc.json('DELETE', `/patients/${stored[1]!.ParentPatient}`);
    // Deleting the patient deletes its last instance, series and study, and the patient itself.
    for (const [level, id] of [
      [3, stored[1]!.ID],
      [2, stored[1]!.ParentSeries],
      [1, stored[1]!.ParentStudy],
      [0, stored[1]!.ParentPatient],
    ] as const) {
      await host!.log.waitFor(new RegExp(`deletion-listener\\] DELETED ${level} ${id}`));
    }
  });

  it('with the host down: Accept keeps receiving (counted afterwards); Reject refuses', async () => {
    await host!.stop();
    host = undefined;
    const [mr] = study('MR', 'DOWN-ACCEPT');
    assert.equal((await orthanc.upload(mr!.file)).Status, 'Success', 'Accept: even an instance a rule would refuse is kept');
    const [mrByDicom] = study('MR', 'DOWN-ACCEPT-CSTORE');
    const accepted = await storescu(orthanc, 'SCANNER', [mrByDicom!.file]);
    assert.deepEqual(accepted.statuses, ['Success'], accepted.output);
    assert.equal(
      await exists(
        orthanc,
        orthancInstanceId({
          PatientID: 'DOWN-ACCEPT-CSTORE',
          StudyInstanceUID: mrByDicom!.studyInstanceUid,
          SeriesInstanceUID: mrByDicom!.seriesInstanceUid,
          SOPInstanceUID: mrByDicom!.sopInstanceUid,
        }),
      ),
      true,
    );

    const acceptedFind = await findscu(orthanc, 'VIEWER1', '-S', ['QueryRetrieveLevel=STUDY', 'PatientID=FIND-*']);
    assert.deepEqual(
      [acceptedFind.patientIds, acceptedFind.final],
      [['FIND-N', 'FIND-S'], 'Success'],
      'Accept: the query runs as received, unrestricted',
    );

    await writeScript('Reject');
    await orthanc.process.restart();
    const refusedFind = await findscu(orthanc, 'OTHER', '-S', ['QueryRetrieveLevel=STUDY', 'PatientID=FIND-*']);
    assert.deepEqual([refusedFind.patientIds, refusedFind.final], [[], UNABLE], refusedFind.output);
    const [ct] = study('CT', 'DOWN-REJECT');
    const refused = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: ct!.file });
    assert.equal(((await refused.json()) as { Status?: string }).Status, 'FilteredOut');
    const [byDicom] = study('CT', 'DOWN-CSTORE');
    const down = await storescu(orthanc, 'SCANNER', [byDicom!.file]);
    assert.deepEqual(down.statuses, [REFUSED], down.output);
    assert.equal(
      await exists(
        orthanc,
        orthancInstanceId({
          PatientID: 'DOWN-CSTORE',
          StudyInstanceUID: byDicom!.studyInstanceUid,
          SeriesInstanceUID: byDicom!.seriesInstanceUid,
          SOPInstanceUID: byDicom!.sopInstanceUid,
        }),
      ),
      false,
    );

    host = await startHostProcess(configuration('Reject'), folder);
    const [after] = study('CT', 'BACK-UP');
    await eventually(
      async () =>
        (
          await fetch(`${orthanc.url}/instances`, { method: 'POST', body: after!.file }).then(
            (r) => r.json() as Promise<{ Status?: string }>,
          )
        ).Status === 'Success',
      20_000,
      'the host to answer the bridge again',
    );
    const described = JSON.parse((await rawRequest(`${host.url}/recipes`)).body.toString()) as { Bridge: { UnansweredByHost: number } };
    assert.ok(described.Bridge.UnansweredByHost >= 2, JSON.stringify(described.Bridge));
  });
});

describe('the embedded Orthanc gets the bridge script by itself', { timeout: 120_000 }, () => {
  it('filters uploads through the front and delivers deletions, with no script installed by hand', async () => {
    const deletions: string[] = [];
    const listener = defineRecipe({
      meta: {
        id: 'deletion-recorder',
        title: 'Deletions',
        description: 'Records deletions.',
        routes: [],
        events: ['DELETED'],
        destructive: false,
      },
      schema: { type: 'object', properties: {}, additionalProperties: false },
      setup({ orthanc }) {
        orthanc.registerOnChangeCallback((_type, _level, id) => void deletions.push(id), { types: ['DELETED'] });
      },
    });
    const { host, url, directory } = await startHostInProcess(
      {
        Recipes: {
          'receive-filter': { Enabled: true, Rules: [{ Action: 'Reject', Filter: { Modality: 'MR' } }] },
          'deletion-recorder': { Enabled: true },
        },
      },
      [listener],
    );
    try {
      const upload = async (file: Buffer) => (await rawRequest(`${url}/instances`, { method: 'POST', body: file })).body.toString();
      assert.equal(JSON.parse(await upload(study('MR', 'EMBEDDED-MR')[0]!.file)).Status, 'FilteredOut');
      const stored = JSON.parse(await upload(study('CT', 'EMBEDDED-CT')[0]!.file)) as { ID: string; Status: string };
      assert.equal(stored.Status, 'Success');
      assert.equal((await rawRequest(`${url}/instances/${stored.ID}`, { method: 'DELETE' })).status, 200);
      await eventually(() => deletions.includes(stored.ID), 10_000, 'the deletion to reach the listener');
    } finally {
      await host.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { getFreePort } from '../../../host/orthanc-process.js';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy, type StudySpec } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { call, taskView, type TaskView } from './fixtures.js';
import { startStoreScp } from '../../../test/helpers/storescp.js';

const never = '0 0 1 1 *';
/** `YYYYMMDD`, UTC, `days` ago. */
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');

describe('recipe scheduler: built-in tasks, against a real Orthanc', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let downPort: number;

  before(async () => {
    downPort = await getFreePort();
    orthanc = await startTestOrthanc({
      configuration: { DicomModalities: { down: ['DOWN', '127.0.0.1', downPort] }, JobsHistorySize: 50 },
    });
    const purge = (Name: string, Options: Record<string, unknown>) => ({ Name, Schedule: never, Task: 'purge-older-than', Options });
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: {
        scheduler: {
          Enabled: true,
          Tasks: [
            purge('purge-dry', { Days: 30, By: 'StudyDate', Filter: { Modality: 'CT\\MR' } }),
            purge('purge', { Days: 30, By: 'StudyDate', Filter: { Modality: 'CT\\MR' }, DryRun: false }),
            purge('purge-us-series', { Days: 30, By: 'StudyDate', Level: 'Series', Filter: { Modality: 'US' }, DryRun: false }),
            purge('purge-patients-dry', { Days: 30, By: 'StudyDate', Level: 'Patient' }),
            purge('purge-updated-dry', { Days: 1, Level: 'Patient', DryRun: true }),
            purge('purge-updated', { Days: 0, Level: 'Patient', Filter: { PatientID: 'RECENT-*' }, DryRun: false }),
            { Name: 'resubmit-one', Schedule: never, Task: 'resubmit-failed-jobs', Options: { MaxPerRun: 1 } },
            { Name: 'resubmit-modifications', Schedule: never, Task: 'resubmit-failed-jobs', Options: { Types: ['ResourceModification'] } },
          ],
        },
      },
    });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  const view = (name: string) => taskView(host.url, name);
  async function runNow(name: string): Promise<NonNullable<TaskView['LastRun']>> {
    const { status, body } = await call(`${host.url}/recipes/scheduler/tasks/${name}/run`, 'POST');
    assert.equal(status, 202, JSON.stringify(body));
    let last: TaskView['LastRun'] = null;
    await eventually(
      async () => (last = (await view(name)).LastRun) !== null && last.Start === body.Start,
      30_000,
      `the end of ${name}'s run`,
    );
    return last!;
  }
  async function store(spec: StudySpec): Promise<{ study: string; patient: string; series: string[] }> {
    const series = new Set<string>();
    let stored: { ParentStudy: string; ParentPatient: string; ParentSeries: string } | undefined;
    for (const instance of generateStudy({ size: 8, ...spec })) {
      stored = await orthanc.upload(instance.file);
      series.add(stored.ParentSeries);
    }
    return { study: stored!.ParentStudy, patient: stored!.ParentPatient, series: [...series] };
  }
  const studies = async () => (await orthanc.json<string[]>('GET', '/studies')).sort();
  const sorted = (ids: string[]) => [...ids].sort();

  it('purge-older-than by StudyDate: a dry run lists exactly the old studies that match the filter, a real run deletes exactly them', async () => {
    const oldCt = await store({
      patientId: 'P1',
      patientName: 'One^Patient',
      studyDate: '20200101',
      series: [{ modality: 'CT', instances: 2 }],
    });
    const recentCt = await store({
      patientId: 'P1',
      patientName: 'One^Patient',
      studyDate: daysAgo(29),
      series: [{ modality: 'CT', instances: 1 }],
    });
    const justOldMr = await store({
      patientId: 'P2',
      patientName: 'Two^Patient',
      studyDate: daysAgo(31),
      series: [{ modality: 'MR', instances: 1 }],
    });
    const oldOt = await store({
      patientId: 'P3',
      patientName: 'Three^Patient',
      studyDate: '20180101',
      series: [{ modality: 'OT', instances: 1 }],
    });
    const noDate = await store({ patientId: 'P4', patientName: 'Four^Patient', studyDate: '', series: [{ modality: 'CT', instances: 1 }] });
    const secret = await store({
      patientId: 'SECRET-ID-7',
      patientName: 'Secret^Name',
      studyDate: '20150101',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const mixed = await store({
      patientId: 'P5',
      patientName: 'Five^Patient',
      studyDate: '20170101',
      series: [
        { modality: 'CT', instances: 1 },
        { modality: 'US', instances: 1 },
      ],
    });
    const old = [oldCt.study, justOldMr.study, secret.study, mixed.study];
    const all = await studies();

    // Series level: only the US series of the old mixed study goes; its CT series stays.
    const series = await runNow('purge-us-series');
    assert.equal(series.Outcome, 'Success', series.Error);
    assert.deepEqual(series.Result.Resources, [mixed.series[1]]);
    assert.deepEqual(await orthanc.json('GET', `/studies/${mixed.study}/series`).then((s: { ID: string }[]) => s.map((x) => x.ID)), [
      mixed.series[0],
    ]);

    const dry = await runNow('purge-dry');
    assert.equal(dry.Outcome, 'Success', dry.Error);
    assert.deepEqual(
      { ...dry.Result, Resources: sorted(dry.Result.Resources) },
      { DryRun: true, Level: 'Study', By: 'StudyDate', Cutoff: daysAgo(30), Resources: sorted(old), Failed: [] },
    );
    assert.deepEqual(await studies(), all, 'a dry run deletes nothing');
    const dryLog = await host.log.waitForMessage('scheduler.purge-dry', (m) => m.startsWith('dry run: would delete'));
    assert.match(dryLog, new RegExp(`^dry run: would delete count=4 resourceLevel=studies by=StudyDate cutoff=${daysAgo(30)} resources=`));
    for (const id of old) assert.ok(dryLog.includes(id), id);

    // A patient is old by StudyDate when all its studies are: P1 has a recent study too, P4 an undated one.
    const patients = await runNow('purge-patients-dry');
    assert.deepEqual(sorted(patients.Result.Resources), sorted([justOldMr.patient, oldOt.patient, secret.patient, mixed.patient]));

    const real = await runNow('purge');
    assert.equal(real.Outcome, 'Success', real.Error);
    assert.equal(real.Result.DryRun, false);
    assert.deepEqual(sorted(real.Result.Resources), sorted(old));
    assert.deepEqual(await studies(), sorted([recentCt.study, oldOt.study, noDate.study]));
    assert.deepEqual((await runNow('purge')).Result.Resources, [], 'nothing is left to delete');

    const all_logs = host.log.lines.join('\n');
    assert.doesNotMatch(all_logs, /Secret|SECRET-ID-7|One\^Patient/);
  });

  it('purge-older-than by LastUpdate: Days 1 keeps what was just stored, Days 0 deletes exactly the patients that the filter selects', async () => {
    const kept = await studies();
    const first = await store({
      patientId: 'RECENT-1',
      patientName: 'Recent^One',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const second = await store({
      patientId: 'RECENT-2',
      patientName: 'Recent^Two',
      studyDate: '20240101',
      series: [{ modality: 'MR', instances: 1 }],
    });
    const dry = await runNow('purge-updated-dry');
    assert.deepEqual(dry.Result.Resources, []);
    assert.match(dry.Result.Cutoff, /^\d{8}T\d{6}$/);
    // LastUpdate has a resolution of one second: let it fall strictly before "now".
    await sleep(1100);
    const real = await runNow('purge-updated');
    assert.equal(real.Outcome, 'Success', real.Error);
    assert.deepEqual(sorted(real.Result.Resources), sorted([first.patient, second.patient]));
    assert.deepEqual(await studies(), kept);
  });

  it('resubmit-failed-jobs resubmits failed stores (at most MaxPerRun), and they succeed once the modality is up', async () => {
    const [instance] = generateStudy({
      patientId: 'JOB-1',
      patientName: 'Job^One',
      studyDate: '20240101',
      size: 8,
      series: [{ modality: 'CT', instances: 1 }],
    });
    const stored = await orthanc.upload(instance!.file);
    const jobs: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const { ID } = await orthanc.json('POST', '/modalities/down/store', { Resources: [stored.ID], Asynchronous: true });
      jobs.push(ID);
      await eventually(async () => (await orthanc.json('GET', `/jobs/${ID}`)).State === 'Failure', 60_000, `job ${ID} to fail`);
    }
    const modifications = await runNow('resubmit-modifications');
    assert.deepEqual(modifications.Result, { Resubmitted: [], Failed: [], Remaining: 0 });

    const storescp = await startStoreScp({ port: downPort });
    try {
      const firstRun = await runNow('resubmit-one');
      assert.equal(firstRun.Outcome, 'Success', firstRun.Error);
      assert.deepEqual(firstRun.Result, { Resubmitted: [jobs[0]], Failed: [], Remaining: 1 });
      await eventually(
        async () => (await orthanc.json('GET', `/jobs/${jobs[0]}`)).State === 'Success',
        60_000,
        'the resubmitted job to succeed',
      );
      assert.equal((await orthanc.json('GET', `/jobs/${jobs[1]}`)).State, 'Failure');

      const secondRun = await runNow('resubmit-one');
      assert.deepEqual(secondRun.Result, { Resubmitted: [jobs[1]], Failed: [], Remaining: 0 });
      await eventually(
        async () => (await orthanc.json('GET', `/jobs/${jobs[1]}`)).State === 'Success',
        60_000,
        'the second job to succeed',
      );
      assert.equal((await storescp.received()).length, 1, 'storescp received the instance');
    } finally {
      await storescp.dispose();
    }
  });
});

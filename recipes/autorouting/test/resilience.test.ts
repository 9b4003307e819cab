import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { eventually, waitUntilStable } from '../../../test/helpers/changes.js';
import type { HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { startStoreScp, type StoreScp } from '../../../test/helpers/storescp.js';
import { deleteAllStudies, logsNamePatient, receivedAll, receivedAny, startRouter, statusOf, uploadStudy } from './fixtures.js';

/** The route's options in this file: quick retries, so that outages end in seconds. */
const rules = { Rules: [{ Name: 'all', Destinations: ['a'] }], Retry: { InitialDelaySeconds: 1, MaxDelaySeconds: 4 } };

describe('recipe autorouting: outages and crashes lose nothing', { timeout: 300_000 }, () => {
  let orthanc: TestOrthanc;
  let scp: StoreScp;
  let host: HostProcess | undefined;
  const hosts: HostProcess[] = [];
  const route = async (directory?: string) => {
    host = await startRouter(orthanc, rules, directory);
    hosts.push(host);
    return host;
  };
  const folder = () => mkdtemp(join(tmpdir(), 'orthanc-recipes-autorouting-'));

  before(async () => {
    scp = await startStoreScp({ aet: 'SCPA' });
    // StableAge 3: room to restart Orthanc before a study becomes stable. JobsHistorySize 1:
    // Orthanc forgets a finished job as soon as another one finishes.
    orthanc = await startTestOrthanc({
      configuration: { StableAge: 3, JobsHistorySize: 1, DicomModalities: { a: ['SCPA', '127.0.0.1', scp.port] } },
    });
  });

  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await scp.start();
    await deleteAllStudies(orthanc);
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await scp?.dispose();
  });

  it('the destination is down for 20 s, then up: the study is delivered', async () => {
    await scp.stop();
    const downSince = Date.now();
    const router = await route();
    const study = await uploadStudy(orthanc);
    // The outage lasts 20 s, during which the route is retried with back-off.
    await eventually(
      async () => {
        const [waiting] = (await statusOf(router)).Retrying;
        return waiting?.Attempts >= 3 && Date.now() - downSince >= 20_000;
      },
      40_000,
      'a 20 s outage with retries',
    );
    assert.equal(await receivedAny(scp, study.sops), false);
    await scp.start();
    await receivedAll(scp, study.sops, 15_000);
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 1, 10_000, 'the route succeeded');
  });

  it('the host is killed with SIGKILL in the middle of a route and restarted: it follows the recorded job, and the study is delivered', async () => {
    const directory = await folder();
    const first = await route(directory);
    const study = await uploadStudy(orthanc, { series: [{ modality: 'CT', instances: 120 }] });
    await eventually(async () => (await statusOf(first)).InFlight.length === 1, 20_000, 'a route in flight');
    const [inFlight] = (await statusOf(first)).InFlight;
    await first.stop('SIGKILL');
    const second = await route(directory);
    await second.log.waitFor(
      new RegExp(
        `following a job left in flight by the previous run study=${study.studyId} destination=Modality:a jobId=${inFlight.JobId}`,
      ),
    );
    await receivedAll(scp, study.sops);
    await eventually(async () => (await statusOf(second)).Routes.Succeeded === 1, 10_000, 'the route succeeded');
    await rm(directory, { recursive: true, force: true });
  });

  it("a job evicted from Orthanc's history before its outcome was read is sent again", async () => {
    const directory = await folder();
    const first = await route(directory);
    const study = await uploadStudy(orthanc, { series: [{ modality: 'CT', instances: 120 }] });
    await eventually(async () => (await statusOf(first)).InFlight.length === 1, 20_000, 'a route in flight');
    const [inFlight] = (await statusOf(first)).InFlight;
    await first.stop('SIGKILL');
    await eventually(async () => (await orthanc.json('GET', `/jobs/${inFlight.JobId}`)).State === 'Success', 20_000, 'the job to finish');
    // Another finished job pushes it out of the history (JobsHistorySize 1).
    const other = await uploadStudy(orthanc, { series: [{ modality: 'CT', instances: 1 }] });
    await orthanc.json('POST', '/modalities/a/store', { Resources: [other.studyId], Synchronous: true });
    await assert.rejects(orthanc.json('GET', `/jobs/${inFlight.JobId}`), /HTTP 404/);
    for (const name of await readdir(scp.directory)) await rm(join(scp.directory, name));

    const second = await route(directory);
    await second.log.waitFor(
      new RegExp(
        `job vanished from Orthanc's jobs history before its outcome was read; sending again study=${study.studyId} destination=Modality:a jobId=${inFlight.JobId}`,
      ),
    );
    await receivedAll(scp, study.sops);
    await eventually(async () => (await statusOf(second)).Routes.Succeeded >= 1, 10_000, 'the route succeeded');
    await rm(directory, { recursive: true, force: true });
  });

  it('the host is down while a study becomes stable: it is delivered once the host starts', async () => {
    const directory = await folder();
    const first = await route(directory);
    await first.stop();
    const study = await uploadStudy(orthanc);
    await waitUntilStable(orthanc);
    await route(directory);
    await receivedAll(scp, study.sops);
    await rm(directory, { recursive: true, force: true });
  });

  it('Orthanc restarts while a study is still unstable (no Stable change is ever written): the sweep delivers it', async () => {
    const router = await route();
    const { Last: since } = await orthanc.json('GET', '/changes?last');
    const study = await uploadStudy(orthanc);
    assert.equal((await orthanc.json('GET', `/studies/${study.studyId}`)).IsStable, false);
    await orthanc.process.restart();
    await receivedAll(scp, study.sops);
    await router.log.waitFor(
      /sweep picked up stable resources not yet routed for their last update reason="Orthanc started or came back" resources=1/,
    );
    const changes = (await orthanc.json('GET', `/changes?since=${since}&limit=1000`)).Changes as { ChangeType: string; ID: string }[];
    assert.equal(
      changes.some((c) => c.ChangeType === 'StableStudy' && c.ID === study.studyId),
      false,
      'Orthanc wrote no StableStudy',
    );
  });

  it('never logs the patient name or PatientID', () => {
    assert.ok(hosts.length >= 6);
    for (const each of hosts) assert.equal(logsNamePatient(each), false);
  });
});

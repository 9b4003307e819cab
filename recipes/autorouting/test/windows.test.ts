import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { getFreePort } from '../../../host/orthanc-process.js';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import type { HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { startStoreScp, type StoreScp } from '../../../test/helpers/storescp.js';
import {
  PATIENT_ID,
  PATIENT_NAME,
  deleteAllStudies,
  logsNamePatient,
  receivedAll,
  receivedAny,
  startOrthancProxy,
  startRouter,
  startRouterAt,
  statusOf,
  uploadStudy,
  type OrthancProxy,
} from './fixtures.js';

const quickRetries = { InitialDelaySeconds: 0.5, MaxDelaySeconds: 1 };

describe('recipe autorouting: the windows where a study could be lost', { timeout: 300_000 }, () => {
  let orthanc: TestOrthanc;
  let scpA: StoreScp;
  let scpB: StoreScp;
  let proxy: OrthancProxy | undefined;
  const hosts: HostProcess[] = [];
  const folders: string[] = [];
  const folder = async () => {
    const made = await mkdtemp(join(tmpdir(), 'orthanc-recipes-autorouting-'));
    folders.push(made);
    return made;
  };
  const keep = (host: HostProcess) => (hosts.push(host), host);

  before(async () => {
    scpA = await startStoreScp({ aet: 'SCPA' });
    scpB = await startStoreScp({ aet: 'SCPB', port: await getFreePort() });
    await scpB.stop(); // down until a test starts it
    // StableAge 3: room for a host to start before a study just stored becomes stable.
    orthanc = await startTestOrthanc({
      configuration: { StableAge: 3, DicomModalities: { a: ['SCPA', '127.0.0.1', scpA.port], b: ['SCPB', '127.0.0.1', scpB.port] } },
    });
  });

  afterEach(async () => {
    for (const host of hosts) await host.stop();
    await proxy?.close();
    proxy = undefined;
    await scpB.stop();
    await deleteAllStudies(orthanc);
  });

  after(async () => {
    await orthanc?.stop();
    await scpA?.dispose();
    await scpB?.dispose();
    for (const made of folders) await rm(made, { recursive: true, force: true });
  });

  it('DeleteAfterRouting deletes exactly the instances every destination received: instances stored during the route, just before the deletion and after it survive, and are routed in turn', async () => {
    const [first, second, third, duringJob, beforeDelete1, beforeDelete2, afterRoute] = generateStudy({
      patientId: PATIENT_ID,
      patientName: PATIENT_NAME,
      studyDate: '20240601',
      series: [{ modality: 'CT', instances: 7 }],
      size: 16,
    });
    const stored: string[] = [];
    const store = async (instance: typeof first) => {
      await orthanc.upload(instance!.file);
      stored.push(instance!.sopInstanceUid);
    };
    const late = { duringJob: [duringJob], beforeDelete: [beforeDelete1, beforeDelete2] };
    // The proxy stores an instance of the study right after Orthanc accepted the first send job
    // (it arrives while the study is being sent), and right before each deletion reaches Orthanc
    // (the window between reading the study and deleting it).
    proxy = await startOrthancProxy(orthanc.url, {
      before: async (method, path) => {
        const deleting = (method === 'POST' && path === '/tools/bulk-delete') || (method === 'DELETE' && path.startsWith('/studies/'));
        if (deleting && late.beforeDelete.length > 0) await store(late.beforeDelete.shift());
      },
      after: async (method, path) => {
        if (method === 'POST' && path === '/modalities/a/store' && late.duringJob.length > 0) await store(late.duringJob.shift());
      },
    });
    const router = keep(
      await startRouterAt(proxy.url, { DeleteAfterRouting: true, Rules: [{ Destinations: ['a'] }], Retry: quickRetries }, await folder()),
    );
    for (const instance of [first, second, third]) await store(instance);

    // Never neither: an instance stored is in Orthanc or at the destination, at every moment
    // (Orthanc read first: an instance deleted between the two reads was received before).
    const neither = async () => {
      // Only what was stored before the reads: one stored meanwhile may be missing from both.
      const candidates = [...stored];
      const inOrthanc = new Set(
        (await orthanc.json<{ MainDicomTags: { SOPInstanceUID: string } }[]>('GET', '/instances?expand')).map(
          (i) => i.MainDicomTags.SOPInstanceUID,
        ),
      );
      const received = new Set(await scpA.received());
      return candidates.filter((sop) => !inOrthanc.has(sop) && !received.has(sop));
    };
    await router.log.waitFor(/deleted the instances every destination received study=/, 30_000);
    assert.deepEqual(await neither(), []);
    await store(afterRoute);
    await eventually(
      async () => {
        assert.deepEqual(await neither(), [], 'every instance is in Orthanc or at the destination');
        return stored.length === 7 && (await orthanc.json<string[]>('GET', '/instances')).length === 0;
      },
      90_000,
      'every instance routed, then deleted',
    );
    await receivedAll(scpA, stored);
    assert.deepEqual(late, { duringJob: [], beforeDelete: [] }, 'every late instance was stored');
    // Orthanc is empty once the last deletion is done; the host's line about it may still be on its way.
    const deletions = () => router.log.messages('autorouting').filter((line) => line.startsWith('deleted the '));
    await eventually(() => deletions().length >= 3, 10_000).catch(() =>
      assert.fail(`three deletions, not only:\n${deletions().join('\n')}`),
    );
    assert.match(deletions()[0]!, /^deleted the instances every destination received study=\S+ lastUpdate=\S+ instances=3$/);
  });

  it('the first start draws its line FirstStartMarginSeconds back: a study stored just before it, whose one decision fails, is still swept and delivered', async () => {
    const study = await uploadStudy(orthanc);
    const { LastUpdate: lastUpdate } = await orthanc.json('GET', `/studies/${study.studyId}`);
    // The first start comes strictly after the study's last update.
    const orthancNow = async () => (await (await fetch(`${orthanc.url}/tools/now`)).text()).trim();
    await eventually(async () => (await orthancNow()) > lastUpdate, 5_000, "Orthanc's clock past the study");
    let refused = 0;
    // Its decision fails once (Orthanc answers 500 to the first read of the study).
    proxy = await startOrthancProxy(orthanc.url, {
      before: async (method, path) => {
        if (method !== 'GET' || path !== `/studies/${study.studyId}` || refused > 0) return;
        refused += 1;
        return 500;
      },
    });
    const router = keep(
      await startRouterAt(
        proxy.url,
        { Rules: [{ Destinations: ['a'] }], FirstStartMarginSeconds: 60, Retry: quickRetries },
        await folder(),
      ),
    );
    await receivedAll(scpA, study.sops, 30_000);
    const status = await statusOf(router);
    assert.ok(status.RoutingSince < lastUpdate, `RoutingSince ${status.RoutingSince} is before the study's LastUpdate ${lastUpdate}`);
    assert.equal(status.Resources.Routed, 1);
  });

  it('a route to a destination removed from the rules is cancelled with the reason, and sent once the destination is back', async () => {
    const directory = await folder();
    const both = { Rules: [{ Destinations: ['a', 'b'] }], Retry: quickRetries };
    const first = keep(await startRouter(orthanc, both, directory));
    const study = await uploadStudy(orthanc);
    await receivedAll(scpA, study.sops);
    await eventually(async () => (await statusOf(first)).Retrying.length === 1, 20_000, 'the route to b waiting for a retry');
    await first.stop();

    const onlyA = keep(await startRouter(orthanc, { ...both, Rules: [{ Destinations: ['a'] }] }, directory));
    const status = await statusOf(onlyA);
    assert.equal(status.Routes.Cancelled, 1);
    assert.equal(status.Routes.Pending, 0);
    assert.equal(status.Cancelled.length, 1);
    assert.equal(status.Cancelled[0].Resource, study.studyId);
    assert.equal(status.Cancelled[0].Destination, 'Modality:b');
    assert.equal(status.Cancelled[0].LastError, 'Modality:b is no longer a destination of the rules');
    assert.ok(
      onlyA.log
        .messages('autorouting')
        .includes(
          'routes cancelled; they are sent if the destination comes back destination=Modality:b routes=1 reason="Modality:b is no longer a destination of the rules"',
        ),
    );
    await onlyA.stop();

    await scpB.start();
    const again = keep(await startRouter(orthanc, both, directory));
    await receivedAll(scpB, study.sops);
    await eventually(async () => (await statusOf(again)).Routes.Succeeded === 2, 10_000, 'both routes succeeded');
    assert.equal((await statusOf(again)).Routes.Cancelled, 0);
  });

  it('a destination Orthanc forgets at run time: its routes are cancelled with the reason, and sent when Orthanc knows it again', async () => {
    await scpB.start();
    const router = keep(
      await startRouter(orthanc, { Rules: [{ Destinations: ['a', 'b'] }], Retry: quickRetries, SweepIntervalSeconds: 1 }, await folder()),
    );
    const definition = { AET: 'SCPB', Host: '127.0.0.1', Port: scpB.port };
    await orthanc.json('DELETE', '/modalities/b');
    try {
      const study = await uploadStudy(orthanc);
      await receivedAll(scpA, study.sops);
      await eventually(async () => (await statusOf(router)).Routes.Cancelled === 1, 20_000, 'the route to b cancelled');
      const [cancelled] = (await statusOf(router)).Cancelled;
      assert.equal(cancelled.LastError, 'Orthanc no longer knows the modality "b"');
      assert.equal(await receivedAny(scpB, study.sops), false);
      await orthanc.json('PUT', '/modalities/b', definition);
      await receivedAll(scpB, study.sops, 20_000);
      await eventually(async () => (await statusOf(router)).Routes.Succeeded === 2, 10_000, 'both routes succeeded');
    } finally {
      await orthanc.json('PUT', '/modalities/b', definition);
    }
  });

  it('never logs the patient name or PatientID', () => {
    assert.ok(hosts.length >= 5);
    for (const each of hosts) assert.equal(logsNamePatient(each), false);
  });
});

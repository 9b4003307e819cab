import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { getFreePort } from '../../../host/orthanc-process.js';
import { eventually, waitUntilStable } from '../../../test/helpers/changes.js';
import type { HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { startStoreScp, type StoreScp } from '../../../test/helpers/storescp.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import {
  PATIENT_ID,
  PATIENT_NAME,
  deleteAllStudies,
  logsNamePatient,
  receivedAll,
  receivedAny,
  sopsIn,
  startRouter,
  statusOf,
  storeStudyOverDicom,
  uploadStudy,
} from './fixtures.js';

describe('recipe autorouting: routing, against a real Orthanc, storescp and a peer Orthanc', { timeout: 240_000 }, () => {
  let orthanc: TestOrthanc;
  let peer: TestOrthanc;
  let scpA: StoreScp;
  let scpB: StoreScp;
  let host: HostProcess | undefined;
  const hosts: HostProcess[] = [];
  const route = async (options: Record<string, unknown>) => {
    host = await startRouter(orthanc, options);
    hosts.push(host);
    return host;
  };

  before(async () => {
    scpA = await startStoreScp({ aet: 'SCPA' });
    scpB = await startStoreScp({ aet: 'SCPB', port: await getFreePort() });
    await scpB.stop(); // down until a test starts it
    peer = await startTestOrthanc();
    orthanc = await startTestOrthanc({
      configuration: {
        StableAge: 1,
        DicomModalities: { a: ['SCPA', '127.0.0.1', scpA.port], b: ['SCPB', '127.0.0.1', scpB.port] },
        OrthancPeers: { backup: { Url: peer.url } },
      },
    });
  });

  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await scpB.stop();
    await deleteAllStudies(orthanc);
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await peer?.stop();
    await scpA?.dispose();
    await scpB?.dispose();
  });

  it('sends a stable study to storescp and to a peer Orthanc: every instance arrives', async () => {
    const router = await route({ Rules: [{ Name: 'all', Destinations: ['a', { Peer: 'backup' }] }] });
    const study = await uploadStudy(orthanc, {
      series: [
        { modality: 'CT', instances: 4 },
        { modality: 'CT', instances: 2 },
      ],
    });
    await receivedAll(scpA, study.sops);
    await eventually(async () => JSON.stringify(await sopsIn(peer)) === JSON.stringify(study.sops), 30_000, 'the study at the peer');
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 2, 10_000, 'two routes succeeded');
    const status = await statusOf(router);
    assert.deepEqual(status.Routes, { Pending: 0, Sending: 0, Succeeded: 2, Failed: 0, Gone: 0, Cancelled: 0 });
    assert.equal(status.Resources.Routed, 1);
    // One study delivered (to two destinations) counts once, in the current minute.
    assert.equal(status.RoutedPerMinute.length, 60);
    assert.deepEqual([status.RoutedPerMinute.slice(0, 59).reduce((a: number, b: number) => a + b, 0), status.RoutedPerMinute[59]], [0, 1]);
    assert.match(router.log.lines.join('\n'), new RegExp(`sent study=${study.studyId} destination=Modality:a jobId=[0-9a-f-]+ attempt=1`));
  });

  it('routes a study again when it receives new instances after it was routed', async () => {
    const router = await route({ Rules: [{ Destinations: ['a'] }] });
    const [late, ...early] = generateStudy({
      patientId: PATIENT_ID,
      patientName: PATIENT_NAME,
      studyDate: '20240601',
      series: [{ modality: 'CT', instances: 4 }],
      size: 16,
    });
    for (const instance of early) await orthanc.upload(instance.file);
    await receivedAll(
      scpA,
      early.map((i) => i.sopInstanceUid),
    );
    await orthanc.upload(late!.file);
    await receivedAll(scpA, [late!.sopInstanceUid]);
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 2, 10_000, 'two routes, one per LastUpdate');
    assert.equal((await statusOf(router)).Resources.Routed, 2);
  });

  it('filters on tags, date ranges, ModalitiesInStudy and RemoteAET; a study no rule matches is not sent, and the status says so', async () => {
    const router = await route({
      Rules: [
        { Name: 'chest-2024', Destinations: ['a'], Filter: { StudyDescription: '*chest*', StudyDate: '20240101-' } },
        { Name: 'mr', Destinations: ['a'], Filter: { ModalitiesInStudy: 'MR\\PT' } },
        { Name: 'scanner', Destinations: ['a'], Filter: { RemoteAET: 'SCANNER?' } },
      ],
    });
    const chest = await uploadStudy(orthanc, { studyDescription: 'CT CHEST LOW DOSE', studyDate: '20240305' });
    const chestOld = await uploadStudy(orthanc, { studyDescription: 'CT CHEST', studyDate: '20231231' });
    const slash = await uploadStudy(orthanc, { studyDescription: 'Chest/Abdomen', studyDate: '20240601' });
    const mixed = await uploadStudy(orthanc, {
      studyDescription: 'ABDOMEN',
      studyDate: '20200101',
      series: [
        { modality: 'CT', instances: 1 },
        { modality: 'MR', instances: 2 },
      ],
    });
    const fromScanner = await storeStudyOverDicom(orthanc, 'SCANNER1', { studyDescription: 'HEAD', studyDate: '20200101' });
    const fromOther = await storeStudyOverDicom(orthanc, 'WORKSTATION', { studyDescription: 'HEAD', studyDate: '20200101' });
    for (const sent of [chest, slash, mixed, fromScanner]) await receivedAll(scpA, sent.sops);
    await eventually(async () => (await statusOf(router)).Resources.Unmatched === 2, 20_000, 'two unmatched studies');
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 4, 10_000, 'four routes succeeded');
    const status = await statusOf(router);
    assert.deepEqual(status.Unmatched.map((u: { Resource: string }) => u.Resource).sort(), [chestOld.studyId, fromOther.studyId].sort());
    assert.equal(await receivedAny(scpA, [...chestOld.sops, ...fromOther.sops]), false);
    await router.log.waitForMessage('autorouting', (m) => m === `no rule matches; nothing sent study=${chestOld.studyId}`);
  });

  it("routes at the Series level (on STABLE_SERIES) and the Instance level (on NEW_INSTANCE), with parents' tags in the filter", async () => {
    const router = await route({
      Rules: [
        { Name: 'mr-series', Level: 'Series', Destinations: ['a'], Filter: { Modality: 'MR', StudyDescription: 'MIXED*' } },
        {
          Name: 'key-images',
          Level: 'Instance',
          Destinations: [{ Peer: 'backup' }],
          Filter: { SeriesDescription: 'key*', PatientSex: 'O' },
        },
      ],
    });
    const before = new Set(await sopsIn(peer));
    const instances = await uploadStudy(orthanc, {
      studyDescription: 'MIXED STUDY',
      series: [
        { modality: 'CT', instances: 2, description: 'plain' },
        { modality: 'MR', instances: 2, description: 'plain' },
        { modality: 'CT', instances: 2, description: 'Key images' },
      ],
    });
    const [ct, mr, key] = [instances.ordered.slice(0, 2), instances.ordered.slice(2, 4), instances.ordered.slice(4, 6)];
    await receivedAll(scpA, mr);
    await eventually(
      async () => {
        const atPeer = new Set(await sopsIn(peer));
        return key.every((sop) => atPeer.has(sop));
      },
      30_000,
      'the key images at the peer',
    );
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 3, 10_000, 'one series and two instances routed');
    assert.equal(await receivedAny(scpA, [...ct, ...key]), false);
    const atPeer = (await sopsIn(peer)).filter((sop) => !before.has(sop));
    assert.deepEqual(atPeer.sort(), [...key].sort());
  });

  it('two destinations, one down: the other gets it at once; after MaxAttempts the route is failed until retried', async () => {
    const router = await route({
      Rules: [{ Destinations: ['a', 'b'] }],
      Retry: { MaxAttempts: 2, InitialDelaySeconds: 0.2, MaxDelaySeconds: 0.5 },
    });
    const study = await uploadStudy(orthanc);
    await receivedAll(scpA, study.sops);
    await eventually(async () => (await statusOf(router)).Routes.Failed === 1, 20_000, 'the route to b failed');
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 1, 10_000, 'the route to a succeeded');
    const status = await statusOf(router);
    assert.equal(status.Failures.length, 1);
    const failure = status.Failures[0];
    assert.equal(failure.Resource, study.studyId);
    assert.equal(failure.Destination, 'Modality:b');
    assert.equal(failure.Attempts, 2);
    assert.match(failure.LastError, /job [0-9a-f-]+ failed: /);

    // The routes: 405 for other methods, 404 for a resource the ledger does not know.
    assert.equal((await fetch(`${router.url}/recipes/autorouting/retry`)).status, 405);
    assert.equal((await fetch(`${router.url}/recipes/autorouting/status`, { method: 'POST' })).status, 405);
    const unknown = await fetch(`${router.url}/recipes/autorouting/retry?id=nope`, { method: 'POST' });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { Message: string }).Message, /no resource nope/);

    // A destination that has been failing for a while does not hold back the other one.
    const second = await uploadStudy(orthanc);
    await receivedAll(scpA, second.sops);
    await eventually(async () => (await statusOf(router)).Routes.Failed === 2, 20_000, 'the second route to b failed');

    await scpB.start();
    const one = await fetch(`${router.url}/recipes/autorouting/retry?id=${study.studyId}`, { method: 'POST' });
    assert.deepEqual(await one.json(), { Retried: 1 });
    await receivedAll(scpB, study.sops);
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 3, 10_000, 'the first study at b');
    assert.equal((await statusOf(router)).Routes.Failed, 1);
    assert.equal(await receivedAny(scpB, second.sops), false);
    const all = await fetch(`${router.url}/recipes/autorouting/retry`, { method: 'POST' });
    assert.deepEqual(await all.json(), { Retried: 1 });
    await receivedAll(scpB, second.sops);
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 4, 10_000, 'every route succeeded');
  });

  it('a first start leaves the archive alone, unless RouteExistingOnFirstStart', async () => {
    const archived = await uploadStudy(orthanc);
    await waitUntilStable(orthanc);
    // No margin: the line is the first start itself (the margin has its own test).
    const first = await route({ Rules: [{ Destinations: ['a'] }], FirstStartMarginSeconds: 0 });
    await eventually(async () => (await statusOf(first)).Sweep.LastFinished !== null, 20_000, 'the first sweep');
    const status = await statusOf(first);
    assert.match(status.RoutingSince, /^\d{8}T\d{6}$/);
    assert.deepEqual(status.Resources, { Routed: 0, Unmatched: 0, DryRun: 0 });
    await first.stop();
    const everything = await route({ Rules: [{ Destinations: ['a'] }], RouteExistingOnFirstStart: true });
    await receivedAll(scpA, archived.sops);
    assert.equal((await statusOf(everything)).RoutingSince, null);
  });

  it('DryRun logs exactly what it would send, and sends nothing', async () => {
    const jobsBefore = new Set(await orthanc.json<string[]>('GET', '/jobs'));
    const router = await route({
      DryRun: true,
      DeleteAfterRouting: true,
      Rules: [{ Name: 'everything', Destinations: ['a', { Peer: 'backup' }] }],
    });
    const study = await uploadStudy(orthanc);
    await router.log.waitFor(
      new RegExp(`dry run: would send study=${study.studyId} .* destination=Peer:backup request="POST /peers/backup/store`),
      20_000,
    );
    const line = await router.log.waitFor(new RegExp(`dry run: would send study=${study.studyId} .* destination=Modality:a `));
    const request = `POST /modalities/a/store ${JSON.stringify({ Resources: [study.studyId], Asynchronous: true })}`;
    assert.ok(line.endsWith(`destination=Modality:a request=${JSON.stringify(request)}`), line);
    const status = await statusOf(router);
    assert.equal(status.Resources.DryRun, 1);
    assert.deepEqual(status.Routes, { Pending: 0, Sending: 0, Succeeded: 0, Failed: 0, Gone: 0, Cancelled: 0 });
    const newJobs = (await orthanc.json<string[]>('GET', '/jobs')).filter((id) => !jobsBefore.has(id));
    assert.deepEqual(newJobs, []);
    assert.equal(await receivedAny(scpA, study.sops), false);
    await orthanc.json('GET', `/studies/${study.studyId}`); // not deleted either
  });

  it('DeleteAfterRouting deletes only once every destination received the study', async () => {
    const router = await route({
      DeleteAfterRouting: true,
      Rules: [{ Destinations: ['a', 'b'] }],
      Retry: { InitialDelaySeconds: 0.5, MaxDelaySeconds: 1 },
    });
    const study = await uploadStudy(orthanc);
    await receivedAll(scpA, study.sops);
    await eventually(async () => (await statusOf(router)).Retrying.length === 1, 20_000, 'the route to b waiting for a retry');
    await orthanc.json('GET', `/studies/${study.studyId}`); // still there: b has not received it
    await scpB.start();
    await receivedAll(scpB, study.sops);
    await router.log.waitFor(
      new RegExp(`deleted the instances every destination received study=${study.studyId} lastUpdate=\\d{8}T\\d{6} instances=3`),
      20_000,
    );
    await assert.rejects(orthanc.json('GET', `/studies/${study.studyId}`), /HTTP 404/);
  });

  it('never logs the patient name or PatientID', () => {
    assert.ok(hosts.length >= 4);
    for (const each of hosts) assert.equal(logsNamePatient(each), false);
  });
});

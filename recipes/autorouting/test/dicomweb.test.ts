import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import type { HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { orthancPlugins } from '../../../test/helpers/postgres.js';
import { deleteAllStudies, logsNamePatient, sopsIn, startRouter, statusOf, uploadStudy } from './fixtures.js';

/**
 * `{"DicomWeb": name}` destinations, against a second Orthanc with Debian's DICOMweb plugin: the
 * sending Orthanc loads the plugin too and names the receiver in `DicomWeb.Servers`; the plugin
 * sends with STOW-RS (`POST /dicom-web/servers/{name}/stow`, as a job).
 */
describe('recipe autorouting: DICOMweb destinations (STOW-RS to a second Orthanc with the DICOMweb plugin)', { timeout: 240_000 }, () => {
  let orthanc: TestOrthanc;
  let receiver: TestOrthanc;
  let host: HostProcess | undefined;
  const hosts: HostProcess[] = [];
  const route = async () => {
    host = await startRouter(orthanc, {
      Rules: [{ Name: 'web', Destinations: [{ DicomWeb: 'receiver' }] }],
      Retry: { InitialDelaySeconds: 0.5, MaxDelaySeconds: 1 },
    });
    hosts.push(host);
    return host;
  };
  const holdsAll = async (sops: string[]) => {
    const held = new Set(await sopsIn(receiver));
    return sops.every((sop) => held.has(sop));
  };

  before(async () => {
    receiver = await startTestOrthanc({ configuration: { Plugins: [orthancPlugins.dicomWeb] } });
    orthanc = await startTestOrthanc({
      configuration: {
        StableAge: 1,
        Plugins: [orthancPlugins.dicomWeb],
        DicomWeb: { Servers: { receiver: [`${receiver.url}/dicom-web/`] } },
      },
    });
  });

  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await deleteAllStudies(orthanc);
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await receiver?.stop();
  });

  it('sends a stable study with STOW-RS: every instance arrives at the receiver', async () => {
    const router = await route();
    const study = await uploadStudy(orthanc, {
      series: [
        { modality: 'CT', instances: 3 },
        { modality: 'CT', instances: 2 },
      ],
    });
    await eventually(() => holdsAll(study.sops), 30_000, 'the study at the DICOMweb receiver');
    await eventually(async () => (await statusOf(router)).Routes.Succeeded === 1, 10_000, 'the route succeeded');
    assert.match(
      router.log.lines.join('\n'),
      new RegExp(`sent study=${study.studyId} destination=DicomWeb:receiver jobId=[0-9a-f-]+ attempt=1`),
    );
  });

  it('the receiver is down: the route is retried with back-off, and the study arrives once it is back', async () => {
    const router = await route();
    await receiver.process.stop();
    let down = true;
    try {
      const study = await uploadStudy(orthanc);
      await eventually(
        async () => {
          const [waiting] = (await statusOf(router)).Retrying;
          return waiting?.Attempts >= 2;
        },
        30_000,
        'two failed attempts',
      );
      const [waiting] = (await statusOf(router)).Retrying;
      assert.equal(waiting.Destination, 'DicomWeb:receiver');
      assert.match(waiting.LastError, /job [0-9a-f-]+ failed: /);
      await receiver.process.restart();
      down = false;
      await eventually(() => holdsAll(study.sops), 30_000, 'the study at the receiver once it is back');
      await eventually(async () => (await statusOf(router)).Routes.Succeeded === 1, 10_000, 'the route succeeded');
    } finally {
      if (down) await receiver.process.restart();
    }
  });

  it('never logs the patient name or PatientID', () => {
    assert.equal(hosts.length, 2);
    for (const each of hosts) assert.equal(logsNamePatient(each), false);
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

const TOTAL = 40;

describe('recipe queue, against a real Orthanc, with the host killed mid-work', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess | undefined;
  let folder: string;
  const ids: string[] = [];

  const configuration = () => ({ Orthanc: { Url: orthanc.url }, Recipes: { queue: { Enabled: true, Workers: 2, ReserveSeconds: 2 } } });
  const tagged = async () => {
    const values = await Promise.all(
      ids.map((id) => fetch(`${orthanc.url}/instances/${id}/metadata/1024`).then((r) => (r.ok ? r.text() : undefined))),
    );
    return values.filter((value) => value === 'processed').length;
  };

  before(async () => {
    orthanc = await startTestOrthanc();
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-queue-'));
    host = await startHostProcess(configuration(), folder);
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  it('SIGKILL while instances arrive and are tagged loses none: after a restart every instance ends tagged', async () => {
    const instances = generateStudy({
      patientId: 'QUEUE-SECRET-ID',
      patientName: 'Queue^Secret',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: TOTAL }],
      size: 8,
    });
    let taggedAtKill = -1;
    for (const [index, instance] of instances.entries()) {
      ids.push((await orthanc.upload(instance.file)).ID);
      // Kill as soon as the workers have tagged something: the rest of the uploads land with the host down.
      if (taggedAtKill < 0 && index >= 5 && (await tagged()) > 0) {
        assert.equal(await host!.stop('SIGKILL'), null);
        taggedAtKill = await tagged();
      }
    }
    if (taggedAtKill < 0) {
      await eventually(async () => (await tagged()) > 0, 20_000, 'a first instance tagged');
      await host!.stop('SIGKILL');
      taggedAtKill = await tagged();
    }
    assert.ok(taggedAtKill < TOTAL, `killed mid-work (${taggedAtKill} of ${TOTAL} tagged)`);

    host = await startHostProcess(configuration(), folder);
    await eventually(async () => (await tagged()) === TOTAL, 60_000, 'every instance tagged after the restart');
    await eventually(
      async () => {
        const stats = JSON.parse((await rawRequest(`${host!.url}/recipes/queue/stats`)).body.toString()) as { Size: number };
        return stats.Size === 0;
      },
      20_000,
      'an empty queue',
    );
  });

  it('values held in the queue when the host dies come back: Orthanc refused every tag, the host was killed, then all are tagged', async () => {
    // The metadata name is not declared in Orthanc yet, so every PUT fails and every instance
    // stays in the queue (reserved, retried): only the queue holds them when the host is killed.
    await host!.stop();
    const queued = {
      Orthanc: { Url: orthanc.url },
      Recipes: { queue: { Enabled: true, Workers: 2, ReserveSeconds: 2, Metadata: 'Handled' } },
    };
    host = await startHostProcess(queued, folder);
    const instances = generateStudy({
      patientId: 'QUEUE-SECRET-ID',
      patientName: 'Queue^Secret',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 10 }],
      size: 8,
    });
    const later: string[] = [];
    for (const instance of instances) later.push((await orthanc.upload(instance.file)).ID);
    const stats = async () =>
      JSON.parse((await rawRequest(`${host!.url}/recipes/queue/stats`)).body.toString()) as {
        Size: number;
        Reserved: number;
        SinceStart: { Enqueued: number; Failed: number };
      };
    await eventually(
      async () => {
        const now = await stats();
        return now.SinceStart.Enqueued === 10 && now.Reserved > 0 && now.SinceStart.Failed > 0;
      },
      20_000,
      'every instance queued, some held by a failing worker',
    );
    assert.equal(await host.stop('SIGKILL'), null);

    // Orthanc learns the name (the test reaches into the launcher's options to restart it so).
    const launcher = orthanc.process as unknown as { options: { configuration: Record<string, unknown> } };
    launcher.options.configuration = { ...launcher.options.configuration, UserMetadata: { Handled: 1024 } };
    await orthanc.process.restart();
    host = await startHostProcess(queued, folder);
    const handled = async () =>
      (
        await Promise.all(later.map((id) => fetch(`${orthanc.url}/instances/${id}/metadata/Handled`).then((r) => (r.ok ? r.text() : ''))))
      ).filter((v) => v === 'processed').length;
    await eventually(async () => (await handled()) === 10, 30_000, 'every queued instance tagged after the restart');
    await eventually(async () => (await stats()).Size === 0, 20_000, 'an empty queue');
  });

  it('stats: GET only, JSON with the queue size', async () => {
    const answer = await rawRequest(`${host!.url}/recipes/queue/stats`);
    assert.equal(answer.status, 200);
    const stats = JSON.parse(answer.body.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(stats).sort(), ['Queue', 'Reserved', 'SinceStart', 'Size', 'Waiting']);
    assert.equal((await rawRequest(`${host!.url}/recipes/queue/stats`, { method: 'DELETE' })).status, 405);
  });

  it('logs nothing of the patient', () => {
    assert.doesNotMatch(host!.log.lines.join('\n'), /QUEUE-SECRET-ID|Queue\^Secret/);
  });
});

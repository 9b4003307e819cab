import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, orthancChangeLines, waitUntilStable } from './helpers/changes.js';
import { generateStudy } from './helpers/dicom.js';
import { startHostProcess, type HostProcess } from './helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

const changeLine = /^(NEW|STABLE|COMPLETED|UPDATED)_\w+ \w+ [0-9a-f-]+$/;
const helloChanges = (host: HostProcess) => host.log.messages('hello').filter((m) => changeLine.test(m));

async function uploadStudy(orthanc: TestOrthanc, patientId: string, instances: number): Promise<void> {
  for (const instance of generateStudy({
    patientId,
    patientName: 'Resume^Test',
    studyDate: '20240301',
    series: [{ modality: 'CT', instances }],
  })) {
    await orthanc.upload(instance.file);
  }
}

describe("the cursor across host restarts (the real CLI, hello's logs)", { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let folder: string;
  let config: Record<string, unknown>;
  let startCursor: number;

  before(async () => {
    orthanc = await startTestOrthanc();
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-resume-'));
    config = { Orthanc: { Url: orthanc.url }, Recipes: { hello: { Enabled: true } } };
    startCursor = (await orthanc.json('GET', '/changes?last')).Last;
  });

  after(async () => {
    await orthanc?.stop();
  });

  it('resumes after a clean stop: nothing lost, nothing delivered twice', async () => {
    const first = await startHostProcess(config, folder);
    await first.log.waitFor(/hello\] Started/);
    await uploadStudy(orthanc, 'RESUME-1', 3);
    await waitUntilStable(orthanc);
    const seenByFirst = await orthancChangeLines(orthanc, startCursor);
    await eventually(() => helloChanges(first).length === seenByFirst.length, 10_000, 'the first host');
    assert.equal(await first.stop('SIGTERM'), 0);
    assert.ok(first.log.messages('hello').includes('Stopped'));

    await uploadStudy(orthanc, 'RESUME-2', 2); // while no host runs
    await waitUntilStable(orthanc);
    const all = await orthancChangeLines(orthanc, startCursor);

    const second = await startHostProcess(config, folder);
    await eventually(() => helloChanges(second).length >= all.length - seenByFirst.length, 10_000, 'the second host');
    await new Promise((resolve) => setTimeout(resolve, 600)); // a few more polls: nothing else may come
    assert.deepEqual([...helloChanges(first), ...helloChanges(second)], all);
    assert.equal(await second.stop('SIGINT'), 0);
    startCursor = (await orthanc.json('GET', '/changes?last')).Last;
  });

  it('loses nothing when the host is killed (SIGKILL): changes may come again, none is missing', async () => {
    const victim = await startHostProcess(config, folder);
    await victim.log.waitFor(/hello\] Started/);
    await uploadStudy(orthanc, 'KILLED', 4);
    await victim.stop('SIGKILL');
    await waitUntilStable(orthanc);
    const expected = await orthancChangeLines(orthanc, startCursor);
    const survivor = await startHostProcess(config, folder);
    await eventually(
      () => {
        const seen = new Set([...helloChanges(victim), ...helloChanges(survivor)]);
        return expected.every((line) => seen.has(line));
      },
      15_000,
      'every change after the kill',
    );
    // The survivor delivers the tail in order, with no gap after the last change it repeats.
    const tail = helloChanges(survivor);
    assert.deepEqual(tail, expected.slice(expected.length - tail.length));
    assert.equal(await survivor.stop(), 0);
  });
});

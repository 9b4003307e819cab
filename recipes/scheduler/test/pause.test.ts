import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../../test/helpers/changes.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { folderWithModules } from './fixtures.js';

describe('recipe scheduler: tasks run only while Orthanc is up', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let runsFile: string;
  let folder: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    folder = await folderWithModules();
    runsFile = join(folder, 'runs.txt');
    host = await startHostProcess(
      {
        Orthanc: { Url: orthanc.url },
        // One line in runs.txt per run: the count does not need Orthanc (nor the host's routes, which do).
        Recipes: {
          scheduler: {
            Enabled: true,
            Tasks: [{ Name: 'tick', Every: '500ms', Module: './tasks/append.mjs', Options: { File: runsFile } }],
          },
        },
      },
      folder,
    );
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  const runs = async () => (await readFile(runsFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

  it('starts with Orthanc, pauses while it is down, resumes when it is back without replaying missed runs', async () => {
    await host.log.waitFor(/scheduler\] Orthanc is up: tasks scheduled tasks=1$/);
    await eventually(async () => (await runs()) >= 3, 20_000, 'three runs');

    const logged = host.log.lines.length;
    await orthanc.process.stop();
    await host.log.waitFor(/scheduler\] Orthanc is down: tasks paused until it is back$/, 20_000, logged);
    const atPause = await runs();
    // Ten periods of silence while Orthanc is down (a run in flight at the pause may still end).
    await sleep(5000);
    const duringPause = await runs();
    assert.ok(duringPause - atPause <= 1, `${duringPause - atPause} runs while Orthanc was down`);

    const beforeRestart = host.log.lines.length;
    await orthanc.process.restart();
    await host.log.waitFor(/scheduler\] Orthanc is up: tasks scheduled tasks=1$/, 20_000, beforeRestart);
    // The ten missed runs are not replayed: the schedule starts again from now.
    assert.ok((await runs()) - duringPause <= 1, `${(await runs()) - duringPause} runs right after the restart`);
    await eventually(async () => (await runs()) >= duringPause + 3, 20_000, 'runs after Orthanc came back');
  });
});

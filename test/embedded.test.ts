import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateStudy } from './helpers/dicom.js';
import { cliPath, startHostProcess } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';

describe('the embedded Orthanc (no Orthanc.Url)', { timeout: 120_000 }, () => {
  it('starts Orthanc with its storage in the state directory, serves it, and stops it on SIGTERM', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-embedded-'));
    const host = await startHostProcess({ Orthanc: { Configuration: { StableAge: 1 } }, Recipes: { hello: { Enabled: true } } }, folder);
    const about = JSON.parse((await rawRequest(`${host.url}/recipes`)).body.toString());
    assert.equal(about.Orthanc.Embedded, true);
    assert.equal(about.Orthanc.Answers, true);
    assert.match(about.Orthanc.Url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(about.Orthanc.Url, 'http://127.0.0.1:8042');

    const [instance] = generateStudy({
      patientId: 'EMB-1',
      patientName: 'Embedded^Test',
      studyDate: '20240505',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const stored = await rawRequest(`${host.url}/instances`, { method: 'POST', body: instance!.file });
    assert.equal(stored.status, 200);
    await host.log.waitFor(/hello\] STABLE_STUDY STUDY/, 15_000);
    assert.ok(existsSync(join(folder, 'state', 'orthanc', 'index')), 'the index lives in the state directory');

    assert.equal(await host.stop('SIGTERM'), 0);
    await assert.rejects(fetch(`${about.Orthanc.Url}/system`), 'the embedded Orthanc is stopped with the host');
  });

  it('says which package to install when the Orthanc binary is missing', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-embedded-'));
    const file = join(folder, 'config.json');
    await writeFile(file, JSON.stringify({ Orthanc: { Executable: '/nonexistent/Orthanc' }, HttpServer: { Port: 0 } }));
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [cliPath, 'run', '--config', file], (error, _stdout, stderr) =>
        resolve({ code: Number(error?.code ?? 0), stderr }),
      ),
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /apt-get install orthanc/);
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { writeLargeInstance } from './helpers/dicom.js';
import { startHostProcess, type HostProcess } from './helpers/host.js';
import { memoryOf, resetPeak } from './helpers/memory.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

const MB = 2 ** 20;

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

describe('the proxy streams large bodies both ways', { timeout: 240_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let file: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({ Orthanc: { Url: orthanc.url } });
    file = join(orthanc.directory, 'large.dcm');
    await writeLargeInstance(file, 100 * MB);
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it('uploads and downloads a 100 MB instance through the host, byte for byte, without holding it in memory', async (t) => {
    const size = (await stat(file)).size;
    assert.ok(size > 100 * MB, `the file has ${size} bytes`);
    const pid = host.child.pid!;
    // A first, smaller exchange brings the host's allocator to its working size (Node 24 settles
    // some 40 MB above Node 20), so that the measure below shows what a body costs, not the warm-up.
    const warmUp = join(orthanc.directory, 'warm-up.dcm');
    await writeLargeInstance(warmUp, 20 * MB);
    const warmUpStored = await request(`${host.url}/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      body: createReadStream(warmUp),
    });
    const { ID: warmUpId } = (await warmUpStored.body.json()) as { ID: string };
    await (await request(`${host.url}/instances/${warmUpId}/file`)).body.dump({ limit: Infinity });
    resetPeak(pid);
    const before = memoryOf(pid);

    const upload = await request(`${host.url}/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom', 'content-length': String(size) },
      body: createReadStream(file),
    });
    const stored = (await upload.body.json()) as { ID: string; Status: string };
    assert.equal(upload.statusCode, 200);
    assert.equal(stored.Status, 'Success');

    const download = await request(`${host.url}/instances/${stored.ID}/file`);
    assert.equal(download.statusCode, 200);
    assert.equal(download.headers['content-length'], String(size));
    const hash = createHash('sha256');
    await pipeline(download.body, hash);
    assert.equal(hash.digest('hex'), await sha256OfFile(file));

    const growth = memoryOf(pid).peak - before.rss;
    t.diagnostic(`host RSS ${(before.rss / MB).toFixed(1)} MB before, peak growth ${(growth / MB).toFixed(1)} MB`);
    assert.ok(
      growth < 50 * MB,
      `the host's peak RSS grew by ${(growth / MB).toFixed(1)} MB for a ${(size / MB).toFixed(0)} MB body each way`,
    );
  });
});

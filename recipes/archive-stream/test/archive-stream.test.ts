import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy, writeLargeInstance } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { memoryOf, resetPeak } from '../../../test/helpers/memory.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { zipEntries } from './zip-entries.js';

const MB = 2 ** 20;

/** Sends a GET on a socket of its own and resolves, socket paused, once `bytes` have arrived. */
async function startDownload(base: string, path: string, bytes: number): Promise<Socket> {
  const url = new URL(base);
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) {
        socket.removeAllListeners('data');
        socket.pause();
        resolve();
      }
    });
  });
  return socket;
}

describe('recipe archive-stream, against a real Orthanc', { timeout: 240_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let smallStudy: string;
  let largeStudy: string;
  let largeSize: number;

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { 'archive-stream': { Enabled: true, MaxConcurrentArchives: 2 } },
    });
    for (const instance of generateStudy({
      patientId: 'ARC-1',
      patientName: 'Archive^Small',
      studyDate: '20240101',
      series: [
        { modality: 'CT', instances: 4 },
        { modality: 'MR', instances: 2 },
      ],
    })) {
      smallStudy = (await orthanc.upload(instance.file)).ParentStudy;
    }
    // Pixel data of a ramp compresses poorly enough in the ZIP to stay large.
    const file = join(orthanc.directory, 'large.dcm');
    await writeLargeInstance(file, 80 * MB);
    const stored = await request(`${orthanc.url}/instances`, { method: 'POST', body: createReadStream(file) });
    largeStudy = ((await stored.body.json()) as { ParentStudy: string }).ParentStudy;
    const direct = await request(`${orthanc.url}/studies/${largeStudy}/archive`);
    largeSize = 0;
    for await (const chunk of direct.body) largeSize += chunk.length;
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it("streams the study's ZIP (chunked, application/zip), with the entries of Orthanc's own archive", async () => {
    const answer = await rawRequest(`${host.url}/recipes/archive-stream/studies/${smallStudy}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/zip');
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.equal(answer.headers['content-disposition'], `filename="${smallStudy}.zip"`);
    const direct = await rawRequest(`${orthanc.url}/studies/${smallStudy}/archive`);
    const entries = zipEntries(answer.body);
    assert.equal(entries.length, 6);
    assert.deepEqual(entries, zipEntries(direct.body));
  });

  it('404 with a JSON body for an unknown study, 405 for another method', async () => {
    const unknown = await rawRequest(`${host.url}/recipes/archive-stream/studies/no-such-study`);
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body.toString()).HttpStatus, 404);
    const post = await rawRequest(`${host.url}/recipes/archive-stream/studies/${smallStudy}`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
  });

  it('keeps memory flat for a client that stops reading: back-pressure from the client to Orthanc', async () => {
    const pid = host.child.pid!;
    resetPeak(pid);
    const before = memoryOf(pid);
    // The client takes 1 MB, then stops reading until the host's memory settles: without
    // back-pressure the host would go on reading the archive from Orthanc and hold all of it.
    const client = await startDownload(host.url, `/recipes/archive-stream/studies/${largeStudy}`, MB);
    let last = memoryOf(pid).rss;
    let steady = 0;
    await eventually(
      () => {
        const now = memoryOf(pid).rss;
        steady = Math.abs(now - last) < MB / 2 ? steady + 1 : 0;
        last = now;
        return steady >= 10;
      },
      60_000,
      'the host memory to settle',
    );
    const growth = memoryOf(pid).peak - before.rss;
    let tail = Buffer.alloc(0);
    let received = 0;
    socketLoop: for await (const chunk of client as AsyncIterable<Buffer>) {
      received += chunk.length;
      tail = Buffer.concat([tail, chunk]).subarray(-5);
      if (tail.toString('latin1') === '0\r\n\r\n') break socketLoop;
    }
    client.destroy();
    assert.ok(received + 2 * MB > largeSize, `received the rest of the archive: ${received} bytes of ${largeSize}, growth ${growth}`);
    assert.ok(largeSize > 60 * MB, `the archive has ${largeSize} bytes`);
    assert.ok(growth < 30 * MB, `the host grew by ${(growth / MB).toFixed(1)} MB for a ${(largeSize / MB).toFixed(0)} MB archive`);
  });

  it('stops reading from Orthanc when the client goes away, and serves the next request', async () => {
    const client = await startDownload(host.url, `/recipes/archive-stream/studies/${largeStudy}`, 256 * 1024);
    client.destroy();
    const line = await host.log.waitFor(
      /archive-stream\] the client went away; the read from Orthanc was stopped study=\S+ bytes=(\d+)/,
      20_000,
    );
    const bytes = Number(/bytes=(\d+)/.exec(line)![1]);
    assert.ok(bytes < largeSize / 2, `read ${bytes} of ${largeSize} bytes`);
    const next = await rawRequest(`${host.url}/recipes/archive-stream/studies/${smallStudy}`);
    assert.equal(next.status, 200);
    assert.equal(zipEntries(next.body).length, 6);
  });

  it('answers 503 with Retry-After beyond MaxConcurrentArchives, and no more once they are done', async () => {
    // Two clients that stop reading: their archives stall, held by back-pressure.
    const from = host.log.lines.length;
    const slow = [];
    for (let i = 0; i < 2; i += 1) slow.push(await startDownload(host.url, `/recipes/archive-stream/studies/${largeStudy}`, 1024));
    const third = await rawRequest(`${host.url}/recipes/archive-stream/studies/${smallStudy}`);
    assert.equal(third.status, 503);
    assert.equal(third.headers['retry-after'], '5');
    for (const client of slow) client.destroy();
    await host.log.waitFor(/client went away/, 20_000, from);
    await eventually(() => host.log.lines.slice(from).filter((line) => /client went away/.test(line)).length === 2);
    assert.equal((await rawRequest(`${host.url}/recipes/archive-stream/studies/${smallStudy}`)).status, 200);
  });
});

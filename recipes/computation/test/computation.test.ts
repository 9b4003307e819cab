import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Host } from '../../../host/index.js';
import { eventually } from '../../../test/helpers/changes.js';
import { startHostInProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

const answer = /^computation done in \d+\.\d{3} seconds\n$/;

describe('recipe computation, against a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host;
  let url: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    ({ host, url } = await startHostInProcess({
      Orthanc: { Url: orthanc.url },
      WorkerPool: { MaxThreads: 2 },
      Recipes: { computation: { Enabled: true } },
    }));
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  it('answers both routes with "computation done in N seconds" as text/plain', async () => {
    for (const path of ['/computation', '/computation-pool']) {
      const response = await rawRequest(`${url}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
      assert.match(response.body.toString(), answer);
    }
  });

  it('answers 405 with Allow: GET to other methods', async () => {
    for (const path of ['/computation', '/computation-pool']) {
      const response = await rawRequest(`${url}${path}`, { method: 'POST', body: '' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.allow, 'GET');
    }
  });

  it("answers every call of the pool route correctly under concurrency, beyond the pool's size", async () => {
    assert.equal(host.workers.maxThreads, 2, 'sized by WorkerPool.MaxThreads');
    const calls = host.workers.maxThreads * 2 + 1;
    const responses = await Promise.all(Array.from({ length: calls }, () => rawRequest(`${url}/computation-pool`)));
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.match(response.body.toString(), answer);
    }
    assert.equal(host.workers.running, 0);
  });
});

describe('recipe computation: the event loop stays free while the pool works', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: Host | undefined;

  before(async () => {
    orthanc = await startTestOrthanc();
  });

  after(async () => {
    await host?.close();
    await orthanc?.stop();
  });

  it('answers another route while three long computations run in the pool, and stops the pool with the host', async () => {
    // A billion square roots: seconds of work per call, so the pool is still busy when the probe answers.
    let url: string;
    ({ host, url } = await startHostInProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { computation: { Enabled: true, SquareRoots: 1_000_000_000 } },
    }));
    const running = host;
    let finished = 0;
    const calls = [1, 2, 3].map(() => rawRequest(`${url}/computation-pool`).then((response) => ((finished += 1), response)));
    await eventually(() => running.workers.running === 3, 20_000, 'three computations in the pool');
    const probe = await rawRequest(`${url}/recipes`);
    assert.equal(probe.status, 200);
    assert.equal(finished, 0, 'the probe answered while every computation was still running');
    for (const response of await Promise.all(calls)) assert.match(response.body.toString(), answer);
    assert.ok(running.workers.threads > 0);
    await running.close();
    assert.equal(running.workers.threads, 0, 'the pool stopped with the host');
    await assert.rejects(running.workers.run(new URL('../square-roots.js', import.meta.url), { count: 1 }), {
      code: 'ORC_ERR_WORKER_POOL_CLOSED',
    });
  });
});

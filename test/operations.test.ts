import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { receivedAll, uploadStudy } from '../recipes/autorouting/test/fixtures.js';
import { eventually } from './helpers/changes.js';
import { cliPath, startHostProcess, type HostProcess } from './helpers/host.js';
import { basicAuth } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';
import { startStoreScp, type StoreScp } from './helpers/storescp.js';

const credentials = { username: 'admin', password: 'secret' };
const authorization = { authorization: basicAuth(credentials.username, credentials.password) };

/** `promtool check metrics` on a scrape: resolves with its exit code and output. */
function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
    child.stdin?.end(text);
  });
}

/** One sample's value in a scrape, or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('operations: health, metrics, fatal start errors, the scheduler after an outage', { timeout: 300_000 }, () => {
  let orthanc: TestOrthanc;
  let scp: StoreScp;
  let host: HostProcess;
  const scrape = async () => {
    const answer = await fetch(`${host.url}/recipes/metrics`, { headers: authorization });
    assert.equal(answer.status, 200);
    return answer.text();
  };

  before(async () => {
    scp = await startStoreScp({ aet: 'SCPA' });
    orthanc = await startTestOrthanc({
      configuration: {
        AuthenticationEnabled: true,
        RegisteredUsers: { [credentials.username]: credentials.password },
        DicomModalities: { a: ['SCPA', '127.0.0.1', scp.port] },
      },
      credentials,
    });
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url, Username: credentials.username, Password: credentials.password },
      ChangeFeed: { PollIntervalMilliseconds: 100 },
      Recipes: {
        autorouting: { Enabled: true, Rules: [{ Name: 'all', Destinations: ['a'] }] },
        scheduler: { Enabled: true, Tasks: [{ Name: 'tick', Every: '1s', Request: { Method: 'GET', Uri: '/system' } }] },
        thumbnails: { Enabled: true },
        dashboard: { Enabled: true },
      },
    });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await scp?.dispose();
  });

  it('answers the health probes without credentials, and says nothing else', async () => {
    const live = await fetch(`${host.url}/recipes/health/live`);
    assert.deepEqual([live.status, await live.json()], [200, { Status: 'live' }]);
    const ready = await fetch(`${host.url}/recipes/health/ready?verbose=1`);
    assert.deepEqual([ready.status, await ready.json()], [200, { Status: 'ready' }]);
    assert.equal(ready.headers.get('cache-control'), 'no-store');
    const head = await fetch(`${host.url}/recipes/health/ready`, { method: 'HEAD' });
    assert.deepEqual([head.status, await head.text()], [200, '']);
    const post = await fetch(`${host.url}/recipes/health/live`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    // Everything else still demands Orthanc's credentials.
    assert.equal((await fetch(`${host.url}/recipes`)).status, 401);
    assert.equal((await fetch(`${host.url}/recipes/health/other`)).status, 401);
  });

  it('serves Prometheus metrics behind the credentials, and promtool accepts a real scrape', async () => {
    assert.equal((await fetch(`${host.url}/recipes/metrics`)).status, 401);
    const study = await uploadStudy(orthanc);
    await receivedAll(scp, study.sops, 60_000);
    const [instance] = await orthanc.json<string[]>('GET', '/instances');
    for (let n = 0; n < 2; n += 1)
      assert.equal((await fetch(`${host.url}/instances/${instance}/thumbnail`, { headers: authorization })).status, 200);
    await fetch(`${host.url}/system`, { headers: authorization });
    await eventually(
      async () => (sample(await scrape(), 'orthanc_recipes_autorouting_routes', 'state="succeeded"') ?? 0) >= 1,
      20_000,
      'the route counted',
    );

    const answer = await fetch(`${host.url}/recipes/metrics`, { headers: authorization });
    assert.match(answer.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await answer.text();
    const checked = await promtool(text);
    assert.equal(checked.code, 0, checked.output);
    for (const line of text.split('\n')) if (line && !line.startsWith('#')) assert.match(line, /^orthanc_recipes_/);

    assert.ok(sample(text, 'orthanc_recipes_changes_cursor')! > 0);
    assert.equal(sample(text, 'orthanc_recipes_changes_backlog'), 0);
    assert.ok(sample(text, 'orthanc_recipes_changes_polls_total')! > 0);
    assert.equal(typeof sample(text, 'orthanc_recipes_changes_lag_seconds'), 'number');
    assert.ok(sample(text, 'orthanc_recipes_http_requests_total', 'kind="recipe",status_class="2xx"')! >= 2);
    assert.ok(sample(text, 'orthanc_recipes_http_requests_total', 'kind="proxy",status_class="2xx"')! >= 1);
    assert.ok(sample(text, 'orthanc_recipes_http_requests_total', 'kind="host",status_class="4xx"')! >= 1);
    assert.ok(sample(text, 'orthanc_recipes_http_request_duration_seconds_count', 'kind="proxy"')! >= 1);
    assert.equal(sample(text, 'orthanc_recipes_http_proxy_upstream_errors_total'), 0);
    assert.ok(sample(text, 'orthanc_recipes_http_open_connections')! >= 1);
    assert.ok(sample(text, 'orthanc_recipes_autorouting_attempts_total', 'outcome="succeeded"')! >= 1);
    assert.ok(sample(text, 'orthanc_recipes_autorouting_delivery_latency_seconds_count')! >= 1);
    assert.ok(sample(text, 'orthanc_recipes_autorouting_sweeps_total', 'outcome="finished"')! >= 1);
    assert.ok(sample(text, 'orthanc_recipes_scheduler_runs_total', 'task="tick",outcome="Success"')! >= 1);
    assert.ok(sample(text, 'orthanc_recipes_scheduler_run_duration_seconds_count', 'task="tick"')! >= 1);
    assert.equal(sample(text, 'orthanc_recipes_thumbnails_cache_lookups_total', 'result="miss"'), 1);
    assert.equal(sample(text, 'orthanc_recipes_thumbnails_cache_lookups_total', 'result="hit"'), 1);
    assert.ok(sample(text, 'orthanc_recipes_thumbnails_cache_bytes')! > 0);
    assert.equal(typeof sample(text, 'orthanc_recipes_worker_pool_threads'), 'number');
    assert.equal(typeof sample(text, 'orthanc_recipes_worker_pool_queue'), 'number');
    assert.equal(typeof sample(text, 'orthanc_recipes_worker_pool_utilization_ratio'), 'number');
    assert.equal(sample(text, 'orthanc_recipes_recipe_state', 'recipe="autorouting",state="running"'), 1);
    assert.equal(sample(text, 'orthanc_recipes_recipe_state', 'recipe="autorouting",state="waiting"'), 0);
    // Nothing that names a patient or an option.
    assert.doesNotMatch(text, /AR-PATIENT|Routed|secret/);
  });

  it("the scheduler runs again within about a second of Orthanc's return, however long the outage", async () => {
    await orthanc.process.stop();
    const downSince = Date.now();
    await host.log.waitFor(/Orthanc is down: tasks paused/);
    // A long outage: with the former back-off (doubling up to 5 s), the feed would now poll only every 5 s.
    await eventually(
      async () => Date.now() - downSince >= 8_000 && (await fetch(`${host.url}/recipes/health/ready`)).status === 503,
      20_000,
      'an 8 s outage',
    );
    await orthanc.process.restart();
    const back = Date.now();
    const task = async (): Promise<any> => (await fetch(`${host.url}/recipes/scheduler/tasks/tick`, { headers: authorization })).json();
    await eventually(
      async () => {
        const { LastRun } = await task();
        return LastRun !== null && Date.parse(LastRun.Start) >= back;
      },
      3_000,
      "a run within 3 s of Orthanc's return",
    );
    assert.equal((await fetch(`${host.url}/recipes/health/ready`)).status, 200);
  });

  it('exits at once, non-zero, when the port is taken', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as AddressInfo;
    const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-port-'));
    const configFile = join(directory, 'orthanc-recipes.json');
    await writeFile(
      configFile,
      JSON.stringify({
        Orthanc: { Url: orthanc.url, Username: credentials.username, Password: credentials.password },
        HttpServer: { Port: port },
        StateDirectory: './state',
        Recipes: { scheduler: { Enabled: true } },
      }),
    );
    const child = spawn(process.execPath, [cliPath, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    squatter.close();
    assert.equal(code, 1);
    assert.match(stderr, /cannot start: listen EADDRINUSE/);
  });
});

import assert from 'node:assert/strict';
import { availableParallelism, loadavg } from 'node:os';
import { after, before, describe, it } from 'node:test';
import {
  closeHostileAgent,
  hostileHostConfig,
  MiB,
  runHostileScenario,
  storeHostileFixtures,
  type HostileOutcome,
  type HostileRun,
} from './helpers/hostile.js';
import { startMeasuredHost, type MeasuredHost } from './helpers/measured-host.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

/**
 * Issue 21: no request can stall the host or exhaust its memory. Every recipe route gets
 * oversized and malformed bodies and parameters, prototype keys, pathological patterns, deflate
 * bombs and many large dumps, all at once, while `GET /toto` is probed every 20 ms.
 *
 * Bounds: the probe's p99 stays under 50 ms, and the host's peak RSS under 900 MB: about 200 MB
 * for the host itself (sharp, dcmjs, the worker threads), plus dicom-dump's MaxMegabytesInFlight
 * (128 MB here), plus for each of the 2 worker threads a 64 MB inflated dataset
 * (MaxInflatedMegabytes) and dcmjs's objects, plus 1 MiB bodies in flight. Before the fix the
 * same run peaked at several GB (see bench/hostile.ts).
 */
const rssBoundBytes = 900 * MiB;
const probeP99BoundMs = 50;
/**
 * On a machine whose cores are all busy with other work (CI running suites side by side), the
 * probe waits for a core whatever the host does; there, only a stall can be told from that noise:
 * the bugs of issue 21 stalled the event loop for 2.7 to 23 s.
 */
const stallBoundMs = 2_000;

describe('hostile input to every recipe route, all at once (issue 21)', { timeout: 300_000 }, () => {
  let orthanc: TestOrthanc;
  let host: MeasuredHost;
  let run: HostileRun;

  before(async () => {
    orthanc = await startTestOrthanc();
    const fixtures = await storeHostileFixtures(orthanc, { largeBytes: 32 * MiB, bombBytes: 1024 * MiB });
    host = await startMeasuredHost(hostileHostConfig(orthanc.url));
    // Warm up (worker threads, sharp, the credentials cache) so that the run measures the load.
    for (const path of ['/toto', `/instances/${fixtures.instance}/dcmjs`, `/instances/${fixtures.instance}/thumbnail`]) {
      const answer = await fetch(`${host.url}${path}`);
      assert.equal(answer.status, 200, `${path}: ${await answer.text()}`);
    }
    run = await runHostileScenario(host, fixtures, { bombs: 2, dumps: 24 });
    console.log(
      `hostile run: ${Math.round(run.durationMs)} ms; GET /toto p50 ${run.probe.p50.toFixed(1)} ms, p99 ${run.probe.p99.toFixed(1)} ms, max ${run.probe.max.toFixed(1)} ms over ${run.probe.count}; ` +
        `host event-loop delay max ${run.host.maxDelayMs.toFixed(1)} ms, p99 ${run.host.p99DelayMs.toFixed(1)} ms; peak RSS ${(run.host.peakRssBytes / MiB).toFixed(0)} MiB`,
    );
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await closeHostileAgent();
  });

  const describeOutcome = (o: HostileOutcome) =>
    `${o.name} (${o.method} ${o.path.slice(0, 80)}): ${o.status} ${o.error ?? JSON.stringify(o.json)?.slice(0, 200)}`;

  it('never answers a 5xx, never drops a connection, and every recipe error is JSON saying what was wrong', () => {
    for (const outcome of [...run.malformed, ...run.pathological, ...run.bombs, ...run.dumps]) {
      assert.ok(outcome.status >= 200 && outcome.status < 500, describeOutcome(outcome));
      // A find body without `Metadata` is Orthanc's to answer, and its answer comes back as it is.
      const passedToOrthanc = /^\/tools\/find body (null|\[\]|"text")$/.test(outcome.name);
      if (outcome.status >= 400 && !passedToOrthanc) {
        const json = outcome.json as { HttpStatus?: number; Message?: string } | undefined;
        assert.equal(json?.HttpStatus, outcome.status, describeOutcome(outcome));
        assert.ok(json?.Message, describeOutcome(outcome));
      }
    }
  });

  it('refuses a body over its route limit with a 413, before reading it (a 405 first, for a method the route does not serve)', () => {
    const oversized = run.malformed.filter((o) => o.name.endsWith('2 MiB body'));
    assert.ok(oversized.length >= 17);
    for (const outcome of oversized) {
      // A GET route gets this body as a POST: one that declares its methods refuses the method,
      // before the body is read (/toto and /tata serve every method: they get the 413).
      if (outcome.name.startsWith('GET ') && outcome.status === 405) {
        assert.equal(outcome.status, 405, describeOutcome(outcome));
        assert.equal((outcome.json as { Code?: unknown }).Code, 'method-not-allowed', describeOutcome(outcome));
        continue;
      }
      assert.equal(outcome.status, 413, describeOutcome(outcome));
      assert.equal(typeof (outcome.json as { MaxBodyBytes?: unknown }).MaxBodyBytes, 'number', describeOutcome(outcome));
    }
    assert.ok(
      oversized.some((outcome) => outcome.status === 413),
      'the POST routes get their 413',
    );
    assert.ok(
      oversized.some((outcome) => outcome.status === 405),
      'the GET routes that declare their methods get a 405',
    );
  });

  it('takes no prototype key for a format: toString, __proto__, constructor are 400', () => {
    for (const outcome of run.malformed.filter((o) => /(thumbnail|dcmjs|introspection)\?format=/.test(o.name) && o.method === 'GET')) {
      assert.equal(outcome.status, 400, describeOutcome(outcome));
    }
    for (const outcome of run.malformed.filter((o) => /^\/tools\/find (Level|MetadataMatching) /.test(o.name)))
      assert.equal(outcome.status, 400, describeOutcome(outcome));
    // A metadata named `constructor` is a name like any other: nothing has it, nothing matches.
    for (const outcome of run.malformed.filter((o) => o.name.startsWith('/tools/find Metadata key'))) {
      assert.equal(outcome.status, 200, describeOutcome(outcome));
      assert.deepEqual(outcome.json, []);
    }
  });

  it('caps metadata-find: the number of constraints, their compiled size, the body', () => {
    const status = (name: string) => run.pathological.find((o) => o.name === name)!;
    assert.equal(status('50,000 Metadata keys').status, 413, describeOutcome(status('50,000 Metadata keys')));
    for (const name of ['2,000 keys of [a-z]{1000}N', '30,000 keys under 1 MiB']) {
      assert.equal(status(name).status, 400, describeOutcome(status(name)));
      assert.match((status(name).json as { Message: string }).Message, /at most 64 are allowed in one request \(MaxConstraints\)/);
    }
    for (const name of ['64 keys of [a-z]{1000}N', '64 keys of (?i)\\pL{1000}', '60 wildcards of 1,001 characters']) {
      assert.equal(status(name).status, 400, describeOutcome(status(name)));
      assert.match((status(name).json as { Message: string }).Message, /MaxCompiledSize/);
    }
    for (const name of ['9 keys of [a-z]{1000}N (scanned)', '9 wildcards of 1,001 characters (scanned)'])
      assert.equal(status(name).status, 200, describeOutcome(status(name)));
    assert.equal(status('nested repetition').status, 400);
  });

  it('refuses the deflate bomb (1 MB inflating to 1 GiB) with a 413 and its reason', () => {
    for (const outcome of run.bombs) {
      assert.equal(outcome.status, 413, describeOutcome(outcome));
      assert.match((outcome.json as { Message: string }).Message, /inflates to more than 67108864 bytes.*MaxInflatedMegabytes: 64/);
    }
  });

  it('dumps every one of 24 concurrent large instances', () => {
    for (const outcome of run.dumps) assert.equal(outcome.status, 200, describeOutcome(outcome));
  });

  it(`keeps GET /toto within ${probeP99BoundMs} ms p99 (on a machine with a core to spare) and the host's RSS under ${rssBoundBytes / MiB} MiB meanwhile`, (t) => {
    assert.deepEqual(run.probe.failures, []);
    assert.ok(run.probe.count >= 20, `the probe ran ${run.probe.count} times`);
    const figures = `GET /toto p99 ${run.probe.p99.toFixed(1)} ms, max ${run.probe.max.toFixed(1)} ms; host event-loop delay max ${run.host.maxDelayMs.toFixed(1)} ms`;
    assert.ok(run.host.peakRssBytes < rssBoundBytes, `peak RSS ${(run.host.peakRssBytes / MiB).toFixed(0)} MiB`);
    assert.ok(run.probe.max < stallBoundMs && run.host.maxDelayMs < stallBoundMs, figures);
    const load = loadavg()[0]!;
    if (load >= availableParallelism()) {
      t.diagnostic(
        `load average ${load.toFixed(1)} on ${availableParallelism()} cores: the ${probeP99BoundMs} ms p99 bound is not checked (${figures})`,
      );
      return;
    }
    assert.ok(run.probe.p99 < probeP99BoundMs, figures);
  });
});

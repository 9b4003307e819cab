// Benchmark: the autorouting recipe vs Orthanc sending the same studies straight, in one run.
// 50 studies of 10 instances, routed to dcmtk's storescp:
// - throughput: studies per minute through the recipe (a fresh host's start-up sweep over the 50
//   stable studies) vs one asynchronous `POST /modalities/{name}/store` per study (the limit);
// - latency: 50 more studies arriving one by one (paced below the limit), p50/p95 of (last
//   instance received at storescp − last instance stored − StableAge), beside Orthanc's own share
//   (its StableStudy change, seen by a 50 ms poller, − last stored − StableAge).
// Usage: npm run bench:autorouting [-- --studies 50 --instances 10 --rounds 3 --jobs <JobsPerDestination>]
import { rm, readdir } from 'node:fs/promises';
import { loadavg, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntilStable } from '../test/helpers/changes.js';
import { generateStudy } from '../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../test/helpers/host.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';
import { startStoreScp } from '../test/helpers/storescp.js';

const { values } = parseArgs({
  options: {
    studies: { type: 'string', default: '50' },
    instances: { type: 'string', default: '10' },
    jobs: { type: 'string' },
    rounds: { type: 'string', default: '3' },
  },
});
const rounds = Number(values.rounds);
const studyCount = Number(values.studies);
const instancesPerStudy = Number(values.instances);
const stableAge = 2;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const cell = (value: number | string, width = 14) =>
  (typeof value === 'number' ? value.toFixed(value >= 100 ? 0 : 2) : value).padStart(width);

// dcmtk (storescp, and Orthanc's C-STORE client) reads TCP_NODELAY from the environment; without
// it every small instance waits for a delayed ACK, and the benchmark would measure that.
process.env.TCP_NODELAY = '1';
const scp = await startStoreScp({ aet: 'BENCHSCP' });
const orthanc = await startTestOrthanc({
  configuration: { StableAge: stableAge, JobsHistorySize: 1000, DicomModalities: { scp: ['BENCHSCP', '127.0.0.1', scp.port] } },
});
let host: HostProcess | undefined;
const recipe = {
  autorouting: {
    Enabled: true,
    Rules: [{ Name: 'all', Destinations: ['scp'] }],
    SweepIntervalSeconds: 0,
    RouteExistingOnFirstStart: true,
    ...(values.jobs ? { JobsPerDestination: Number(values.jobs) } : {}),
  },
};
const loadBefore = loadavg();

/** Waits until storescp holds `count` files; returns the last write time among them. */
async function waitForFiles(count: number, timeoutMs = 300_000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const times = await scp.receivedAt();
    if (times.size >= count) return times;
    if (Date.now() > deadline) throw new Error(`storescp received ${times.size} of ${count} instances`);
    await sleep(100);
  }
}

async function clearScp(): Promise<void> {
  for (const name of await readdir(scp.directory)) await rm(join(scp.directory, name));
}

try {
  const system = await orthanc.json('GET', '/system');
  const upload = async (s: number) => {
    const instances = generateStudy({
      patientId: `BENCH-${s}`,
      patientName: 'Bench^Mark',
      studyDate: '20240601',
      series: [{ modality: 'CT', instances: instancesPerStudy }],
    });
    let id = '';
    for (const instance of instances) id = (await orthanc.upload(instance.file)).ParentStudy;
    return { id, sops: instances.map((i) => i.sopInstanceUid), lastStored: Date.now() };
  };
  const perMinute = (ms: number) => (studyCount / ms) * 60_000;
  const firstOf = (times: Map<string, number>) => Math.min(...times.values());

  // Throughput. The studies are stored and stable first; then, the limit: one asynchronous store
  // job per study, all submitted at once; then a fresh host (empty ledger) finds them at start.
  const stored = [];
  for (let s = 0; s < studyCount; s += 1) stored.push(await upload(s));
  await waitUntilStable(orthanc, 60_000);
  // Rounds alternate (direct, recipe, direct, …) so that drift on this shared machine hits both.
  const total = { direct: 0, directDrain: 0, recipe: 0, recipeWork: 0, recipeDrain: 0 };
  for (let round = 0; round < rounds; round += 1) {
    await clearScp();
    const directStart = Date.now();
    for (const study of stored) await orthanc.json('POST', '/modalities/scp/store', { Resources: [study.id], Asynchronous: true });
    const directTimes = await waitForFiles(studyCount * instancesPerStudy);
    const directEnd = Math.max(...directTimes.values());
    total.direct += directEnd - directStart;
    total.directDrain += directEnd - firstOf(directTimes);
    await clearScp();
    const recipeStart = Date.now();
    const fresh = await startHostProcess({ Orthanc: { Url: orthanc.url }, LogLevel: 'info', Recipes: recipe });
    const recipeTimes = await waitForFiles(studyCount * instancesPerStudy);
    const recipeEnd = Math.max(...recipeTimes.values());
    // The recipe's work starts with its first decision (the host's own start-up is not routing).
    const firstDecision = fresh.log.lines.find((line) => line.includes('autorouting] routing study'))!;
    total.recipe += recipeEnd - recipeStart;
    total.recipeWork += recipeEnd - Date.parse(firstDecision.split(' ')[1]!);
    total.recipeDrain += recipeEnd - firstOf(recipeTimes);
    if (round < rounds - 1) await fresh.stop();
    else host = fresh;
  }
  const directRate = perMinute(total.direct / rounds);
  const recipeRate = perMinute(total.recipe / rounds);
  const recipeWorkRate = perMinute(total.recipeWork / rounds);
  const directDrain = perMinute(total.directDrain / rounds);
  const recipeDrain = perMinute(total.recipeDrain / rounds);
  await clearScp();
  // The bare transfer of one study, alone (synchronous POST, nothing queued): what any sender pays.
  const alone: number[] = [];
  for (const study of stored.slice(0, 10)) {
    const t0 = Date.now();
    await orthanc.json('POST', '/modalities/scp/store', { Resources: [study.id], Synchronous: true });
    alone.push(Date.now() - t0);
  }
  await clearScp();

  // Latency: new studies arrive one after another while the recipe runs, paced at 1.25× the time
  // Orthanc needs to send one (faster arrivals only queue up at the destination, whoever sends).
  const pace = (1.25 * total.direct) / rounds / studyCount;
  const stableSeen = new Map<string, number>();
  let since = (await orthanc.json('GET', '/changes?last')).Last as number;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const page = await orthanc.json('GET', `/changes?since=${since}&limit=1000`);
      for (const change of page.Changes) if (change.ChangeType === 'StableStudy') stableSeen.set(change.ID, Date.now());
      since = page.Last;
      await sleep(50);
    }
  })();
  const studies = [];
  const begin = Date.now();
  for (let s = 0; s < studyCount; s += 1) {
    await sleep(Math.max(0, begin + s * pace - Date.now()));
    studies.push(await upload(studyCount + s));
  }
  const received = await waitForFiles(studyCount * instancesPerStudy);
  polling = false;
  await poller;
  const latency = studies.map((s) => Math.max(...s.sops.map((sop) => received.get(sop)!)) - s.lastStored - stableAge * 1000);
  const orthancShare = studies.map((s) => (stableSeen.get(s.id) ?? NaN) - s.lastStored - stableAge * 1000);
  const decidedAt = new Map<string, number>();
  for (const line of host!.log.lines) {
    const found = /^I (\S+) autorouting\] routing study (\S+) /.exec(line);
    if (found) decidedAt.set(found[2]!, Date.parse(found[1]!));
  }
  const toDecision = studies.map((s) => (decidedAt.get(s.id) ?? NaN) - (stableSeen.get(s.id) ?? NaN));
  const decisionToReceived = studies.map((s) => Math.max(...s.sops.map((sop) => received.get(sop)!)) - (decidedAt.get(s.id) ?? NaN));
  const afterStable = studies.map((s) => Math.max(...s.sops.map((sop) => received.get(sop)!)) - (stableSeen.get(s.id) ?? NaN));

  console.log(
    `orthanc-recipes autorouting benchmark: Orthanc ${system.Version}, Node ${process.version}, ${studyCount} studies × ${instancesPerStudy} instances to storescp, StableAge ${stableAge} s, TCP_NODELAY=1`,
  );
  console.log(`throughput, mean of ${rounds} alternating rounds:`);
  console.log(`${''.padEnd(46)}${cell('direct POST')}${cell('recipe')}${cell('ratio')}`);
  console.log(
    `${'studies/min, first request to last received'.padEnd(46)}${cell(directRate)}${cell(recipeWorkRate)}${cell(`${(recipeWorkRate / directRate).toFixed(2)}×`)}   (target ≥ 0.8×; recipe: from its first decision)`,
  );
  console.log(
    `${'studies/min, host start included'.padEnd(46)}${cell(directRate)}${cell(recipeRate)}${cell(`${(recipeRate / directRate).toFixed(2)}×`)}`,
  );
  console.log(
    `${'studies/min, first to last instance received'.padEnd(46)}${cell(directDrain)}${cell(recipeDrain)}${cell(`${(recipeDrain / directDrain).toFixed(2)}×`)}`,
  );
  console.log(`latency, one study every ${(pace / 1000).toFixed(2)} s:`);
  console.log(`${''.padEnd(46)}${cell('Orthanc itself')}${cell('recipe')}`);
  console.log(
    `${'p50 s after last stored, minus StableAge'.padEnd(46)}${cell(percentile(orthancShare, 50) / 1000)}${cell(percentile(latency, 50) / 1000)}`,
  );
  console.log(
    `${'p95 s after last stored, minus StableAge'.padEnd(46)}${cell(percentile(orthancShare, 95) / 1000)}${cell(percentile(latency, 95) / 1000)}   (target: recipe p95 ≤ 1 s)`,
  );
  console.log('   (Orthanc itself: its StableStudy change, seen by a 50 ms poller; recipe: the last instance received)');
  console.log(`${''.padEnd(46)}${cell('direct POST')}${cell('recipe')}`);
  console.log(
    `${'p50 s, StableStudy to last instance received'.padEnd(46)}${cell(percentile(alone, 50) / 1000)}${cell(percentile(afterStable, 50) / 1000)}`,
  );
  console.log(
    `${'p95 s, StableStudy to last instance received'.padEnd(46)}${cell(percentile(alone, 95) / 1000)}${cell(percentile(afterStable, 95) / 1000)}`,
  );
  console.log('   (direct POST: one synchronous store of one study, nothing else queued: the transfer itself)');
  console.log(
    `recipe's share, p50 / p95 s: StableStudy to its decision ${(percentile(toDecision, 50) / 1000).toFixed(2)} / ${(percentile(toDecision, 95) / 1000).toFixed(2)}` +
      `, decision to last instance received ${(percentile(decisionToReceived, 50) / 1000).toFixed(2)} / ${(percentile(decisionToReceived, 95) / 1000).toFixed(2)}`,
  );
  console.log(
    `(load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} after, on ${availableParallelism()} cores shared with other work)`,
  );
} finally {
  await host?.stop();
  await orthanc.stop();
  await scp.dispose();
}

// Benchmark: autorouting's ledger after 100,000 routed studies, in one run.
// - size: the state database holding 100,000 routed studies (generated rows: one decision and one
//   succeeded route each), then after pruning them (KeepFinishedRoutesDays), with the pruning's
//   duration and the longest the event loop waited meanwhile (batches of 500 vs one statement);
// - throughput on real Orthanc traffic: studies/min through the recipe (a fresh host's start-up
//   sweep, 50 studies of 10 instances to storescp) with an empty ledger, with 100,000 recent
//   routed studies in it, and with 100,000 old ones being pruned at the same time.
// Usage: npm run bench:autorouting-ledger [-- --rows 100000 --studies 50 --instances 10 --rounds 2]
import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createLogger } from '../shared/binding/index.js';
import { StateStore } from '../shared/state-store.js';
import { formatOrthancTime } from '../shared/orthanc-resources.js';
import { Ledger } from '../recipes/autorouting/ledger.js';
import { Pruner } from '../recipes/autorouting/prune.js';
import { waitUntilStable } from '../test/helpers/changes.js';
import { generateStudy } from '../test/helpers/dicom.js';
import { startHostProcess } from '../test/helpers/host.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';
import { startStoreScp } from '../test/helpers/storescp.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    studies: { type: 'string', default: '50' },
    instances: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
  },
});
const rowCount = Number(values.rows);
const studyCount = Number(values.studies);
const instancesPerStudy = Number(values.instances);
const rounds = Number(values.rounds);
const day = 86_400_000;
const orthancTime = (ms: number) => formatOrthancTime(new Date(ms));
const fakeId = (n: number) => `${n.toString(16).padStart(8, '0')}-6f1e2d3c-4b5a6978-8a9b0c1d-2e3f4a5b`; // 44 characters, as Orthanc's
const cell = (value: number | string, width = 16) =>
  (typeof value === 'number' ? value.toLocaleString('en-US', { maximumFractionDigits: value >= 100 ? 0 : 2 }) : value).padStart(width);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const loadBefore = loadavg();
const work = await mkdtemp(join(tmpdir(), 'orthanc-recipes-bench-ledger-'));

/** A state folder whose autorouting ledger holds `rows` routed studies, `ageDays` old, each with one succeeded route. */
async function prefilledState(folder: string, rows: number, ageDays: number): Promise<{ seconds: number }> {
  const store = new StateStore(folder);
  const database = store.database('autorouting');
  await new Ledger(database).open();
  const started = Date.now();
  const at = Date.now() - ageDays * day;
  for (let first = 0; first < rows; first += 5000) {
    const statements = [];
    for (let n = first; n < Math.min(rows, first + 5000); n += 1) {
      const lastUpdate = orthancTime(at + n * 1000 - rows * 1000);
      statements.push(
        {
          sql: `INSERT INTO {decisions} (resource_id, last_update, level, outcome, rules, decided_at) VALUES (?, ?, 'Study', 'routed', 'all', ?)`,
          parameters: [fakeId(n), lastUpdate, at],
        },
        {
          sql: `INSERT INTO {routes} (resource_id, last_update, destination, level, state, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, 'Modality:scp', 'Study', 'succeeded', 1, ?, ?, ?)`,
          parameters: [fakeId(n), lastUpdate, at, at, at],
        },
      );
    }
    await database.batch(statements);
  }
  const seconds = (Date.now() - started) / 1000;
  store.close(); // checkpoints the WAL into state.sqlite
  return { seconds };
}

const fileSize = async (folder: string) => (await stat(join(folder, 'state.sqlite'))).size;

/** Prunes a copy of `template` in this process; the event loop's longest wait meanwhile. */
async function pruneIn(template: string, batchSize: number | 'one statement') {
  const folder = join(work, `prune-${batchSize}`);
  await mkdir(folder, { recursive: true });
  await copyFile(join(template, 'state.sqlite'), join(folder, 'state.sqlite'));
  const store = new StateStore(folder);
  const database = store.database('autorouting');
  const ledger = new Ledger(database);
  await ledger.open();
  // The event loop's longest wait: the largest gap between two ticks of a 1 ms timer.
  const gaps: number[] = [];
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 1);
  await sleep(20);
  gaps.length = 0;
  const started = Date.now();
  if (batchSize === 'one statement') {
    await database.run(`DELETE FROM {routes} WHERE state IN ('succeeded', 'gone') AND updated_at < ?`, [Date.now() - 30 * day]);
    await database.run(`DELETE FROM {decisions} WHERE decided_at < ?`, [Date.now() - 30 * day]);
  } else {
    await new Pruner({
      ledger,
      log: createLogger('bench', { level: 'error' }),
      keepDays: 30,
      batchSize,
      orthancNow: async () => orthancTime(Date.now()),
    }).run();
  }
  const seconds = (Date.now() - started) / 1000;
  await sleep(5); // one more tick, so that the last wait is counted
  clearInterval(ticker);
  gaps.sort((a, b) => a - b);
  const maxWaitMs = gaps.at(-1) ?? 0;
  const p99WaitMs = gaps[Math.floor(gaps.length * 0.99)] ?? 0;
  const left = await ledger.counts();
  store.close();
  return { seconds, maxWaitMs, p99WaitMs, left, size: await fileSize(folder) };
}

process.env.TCP_NODELAY = '1';
const scp = await startStoreScp({ aet: 'BENCHSCP' });
const orthanc = await startTestOrthanc({
  configuration: { StableAge: 2, JobsHistorySize: 1000, DicomModalities: { scp: ['BENCHSCP', '127.0.0.1', scp.port] } },
});
try {
  // Size, on generated rows.
  const recent = join(work, 'recent');
  const old = join(work, 'old');
  const empty = join(work, 'empty');
  const fillRecent = await prefilledState(recent, rowCount, 1);
  await prefilledState(old, rowCount, 40);
  await prefilledState(empty, 0, 0);
  const emptySize = await fileSize(empty);
  const fullSize = await fileSize(recent);
  const batched = await pruneIn(old, 500);
  const oneStatement = await pruneIn(old, 'one statement');

  // Throughput on real traffic: 50 stable studies, then a fresh host per round with each ledger.
  const system = await orthanc.json('GET', '/system');
  for (let s = 0; s < studyCount; s += 1) {
    const instances = generateStudy({
      patientId: `BENCH-${s}`,
      patientName: 'Bench^Mark',
      studyDate: '20240601',
      series: [{ modality: 'CT', instances: instancesPerStudy }],
    });
    for (const instance of instances) await orthanc.upload(instance.file);
  }
  await waitUntilStable(orthanc, 60_000);
  const recipe = {
    autorouting: {
      Enabled: true,
      Rules: [{ Name: 'all', Destinations: ['scp'] }],
      SweepIntervalSeconds: 0,
      RouteExistingOnFirstStart: true,
    },
  };
  const cases = { empty, recent, old } as const;
  const perMinute: Record<keyof typeof cases, number[]> = { empty: [], recent: [], old: [] };
  const statusMs: Record<keyof typeof cases, number[]> = { empty: [], recent: [], old: [] };
  const prunedDuringRoute: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const [name, template] of Object.entries(cases) as [keyof typeof cases, string][]) {
      for (const file of await readdir(scp.directory)) await rm(join(scp.directory, file));
      const folder = join(work, `host-${name}-${round}`);
      await mkdir(join(folder, 'state'), { recursive: true });
      await copyFile(join(template, 'state.sqlite'), join(folder, 'state', 'state.sqlite'));
      const host = await startHostProcess({ Orthanc: { Url: orthanc.url }, LogLevel: 'info', Recipes: recipe }, folder);
      const deadline = Date.now() + 300_000;
      let times = await scp.receivedAt();
      while (times.size < studyCount * instancesPerStudy) {
        if (Date.now() > deadline) throw new Error(`storescp received ${times.size} instances`);
        await sleep(50);
        times = await scp.receivedAt();
      }
      const end = Math.max(...times.values());
      const firstDecision = host.log.lines.find((line) => line.includes('autorouting] routing study'))!;
      perMinute[name].push((studyCount / (end - Date.parse(firstDecision.split(' ')[1]!))) * 60_000);
      const t0 = performance.now();
      const answer = await fetch(`${host.url}/recipes/autorouting/status`);
      await answer.json();
      statusMs[name].push(performance.now() - t0);
      if (name === 'old') {
        const pruned = host.log.lines.find((line) => line.includes('autorouting] pruned '));
        if (pruned) prunedDuringRoute.push(Date.parse(pruned.split(' ')[1]!) - Date.parse(firstDecision.split(' ')[1]!));
      }
      await host.stop();
      await rm(folder, { recursive: true, force: true });
    }
  }
  const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;

  console.log(
    `orthanc-recipes autorouting ledger benchmark: Orthanc ${system.Version}, Node ${process.version}, ${rowCount.toLocaleString('en-US')} routed studies (generated rows)`,
  );
  const k = `${Math.round(rowCount / 1000)}k`;
  console.log(`${''.padEnd(50)}${cell('empty ledger')}${cell(`${k} routed`)}${cell('after pruning')}`);
  console.log(
    `${'state.sqlite size'.padEnd(50)}${cell(mb(emptySize))}${cell(mb(fullSize))}${cell(mb(batched.size))}   (SQLite reuses freed pages; the file does not shrink)`,
  );
  console.log(
    `${'bytes per routed study (decision + route + indexes)'.padEnd(50)}${cell('')}${cell(Math.round((fullSize - emptySize) / rowCount))}${cell('')}`,
  );
  console.log(
    `${'rows left (decisions / routes)'.padEnd(50)}${cell('0 / 0')}${cell(`${rowCount} / ${rowCount}`)}${cell(`${batched.left.decisions} / ${batched.left.routes}`)}`,
  );
  console.log(`(generating the ${k} rows took ${fillRecent.seconds.toFixed(1)} s)`);
  console.log(`pruning ${k} routed studies older than KeepFinishedRoutesDays:`);
  console.log(`${''.padEnd(50)}${cell('batches of 500')}${cell('one statement')}`);
  console.log(`${'duration, s'.padEnd(50)}${cell(batched.seconds)}${cell(oneStatement.seconds)}`);
  console.log(
    `${'longest event-loop wait meanwhile, ms'.padEnd(50)}${cell(batched.maxWaitMs)}${cell(oneStatement.maxWaitMs)}   (routing waits that long at most)`,
  );
  console.log(`${'p99 gap between two ticks of a 1 ms timer, ms'.padEnd(50)}${cell(batched.p99WaitMs)}${cell(oneStatement.p99WaitMs)}`);
  console.log(
    `throughput on real traffic, ${studyCount} studies × ${instancesPerStudy} instances to storescp, mean of ${rounds} rounds (fresh host, from its first decision):`,
  );
  console.log(`${''.padEnd(50)}${cell('empty ledger')}${cell(`${k} routed`)}${cell(`${k} pruning`)}`);
  console.log(`${'studies/min'.padEnd(50)}${cell(mean(perMinute.empty))}${cell(mean(perMinute.recent))}${cell(mean(perMinute.old))}`);
  console.log(
    `${'GET /recipes/autorouting/status, ms'.padEnd(50)}${cell(mean(statusMs.empty))}${cell(mean(statusMs.recent))}${cell(mean(statusMs.old))}`,
  );
  console.log(
    prunedDuringRoute.length === rounds
      ? `(pruning of the ${k} old rows finished ${prunedDuringRoute.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s after the first decision)`
      : `(pruning of the ${k} old rows was still under way when the last study arrived in ${rounds - prunedDuringRoute.length} of ${rounds} rounds)`,
  );
  console.log(
    `(load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} after, on ${availableParallelism()} cores shared with other work)`,
  );
} finally {
  await orthanc.stop();
  await scp.dispose();
  await rm(work, { recursive: true, force: true });
}

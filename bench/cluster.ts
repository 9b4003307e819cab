// Benchmark: hosts sharing the work of one Orthanc cluster (two Orthancs on one PostgreSQL index,
// one host beside each), in one run:
// - routing throughput (studies per minute) with one host and with two hosts on the same cluster;
// - the cost of PostgreSQL against SQLite as the state of one host (same studies, same Orthanc);
// - takeover time after a SIGKILL: from the kill of a host holding routes in flight to the other
//   host taking them over (p50, max), with LeaseSeconds as given.
// Each throughput round starts fresh hosts (empty state) on stored, stable studies, with
// RouteExistingOnFirstStart: their start-up sweep finds and routes them all.
// Usage: npm run bench:cluster [-- --studies 40 --instances 4 --takeovers 3 --lease 5]
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestCluster, type TestCluster } from '../test/helpers/cluster.js';
import type { HostProcess } from '../test/helpers/host.js';

const { values } = parseArgs({
  options: {
    studies: { type: 'string', default: '40' },
    instances: { type: 'string', default: '4' },
    takeovers: { type: 'string', default: '3' },
    lease: { type: 'string', default: '5' },
  },
});
const studyCount = Number(values.studies);
const instances = Number(values.instances);
const leaseSeconds = Number(values.lease);

const percentile = (list: number[], p: number) =>
  [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor((p / 100) * list.length))] ?? NaN;
const autorouting = {
  Enabled: true,
  Rules: [{ Level: 'Study', Filter: {}, Destinations: ['scp'] }],
  SweepIntervalSeconds: 5,
  ClusterSweepMinimumAgeSeconds: 0,
  RouteExistingOnFirstStart: true,
  Retry: { InitialDelaySeconds: 1, MaxDelaySeconds: 2 },
};
process.env.TCP_NODELAY = '1';
let cluster: TestCluster | undefined;
let round = 0;

/** Starts fresh hosts (new state) beside the given Orthancs; resolves with the studies per minute, from their first decision to the last instance received. */
async function routeAll(orthancs: number[], engine: 'SQLite' | 'PostgreSQL'): Promise<number> {
  const c = cluster!;
  round += 1;
  const receivedBefore = (await c.destination.receptions()).length;
  const state =
    engine === 'PostgreSQL'
      ? {
          StateDatabase: {
            Engine: 'PostgreSQL',
            ConnectionString: c.postgres.connectionString('orthanc'),
            Schema: `bench_${round}`,
            LeaseSeconds: leaseSeconds,
          },
        }
      : { StateDatabase: { Engine: 'SQLite' } };
  const hosts: HostProcess[] = await Promise.all(
    orthancs.map((n) => c.startHost(n, { StateDirectory: `./state-${round}`, LogLevel: 'info', ...state })),
  );
  const wanted = receivedBefore + studyCount * instances;
  const deadline = Date.now() + 600_000;
  while ((await c.destination.receptions()).length < wanted) {
    if (Date.now() > deadline) throw new Error('routing did not finish within 10 minutes');
    await sleep(100);
  }
  const end = Date.now();
  const decisions = hosts.flatMap((host) =>
    host.log.lines.filter((line) => line.includes('autorouting] routing study')).map((line) => Date.parse(line.split(' ')[1]!)),
  );
  await Promise.all(hosts.map((host) => host.stop()));
  return (studyCount / (end - Math.min(...decisions))) * 60_000;
}

/** Kills a host while it holds routes in flight; resolves with the milliseconds until the other host took them over. */
async function takeover(): Promise<number> {
  const c = cluster!;
  round += 1;
  const state = {
    StateDatabase: {
      Engine: 'PostgreSQL',
      ConnectionString: c.postgres.connectionString('orthanc'),
      Schema: `bench_${round}`,
      LeaseSeconds: leaseSeconds,
    },
  };
  const recipes = { Recipes: { autorouting: { ...autorouting, RouteExistingOnFirstStart: false } } };
  const [victim, survivor] = await Promise.all(
    [0, 1].map((n) => c.startHost(n, { StateDirectory: `./state-${round}`, LogLevel: 'debug', ...state, ...recipes })),
  );
  // New studies through both Orthancs until the victim sends one (the survivor sends others).
  const sending = () => victim!.log.lines.some((line) => /autorouting\] sending study/.test(line));
  for (let s = 0; !sending(); s += 1) {
    if (s > 200) throw new Error('the victim sent nothing');
    await c.upload(s % 2, `takeover-${round}-${s}`, instances);
  }
  const killedAt = Date.now();
  await victim!.stop('SIGKILL');
  const line = await survivor!.log.waitFor(/route taken over|taking over \d+ change/, 120_000);
  await survivor!.stop();
  return Date.parse(line.split(' ')[1]!) - killedAt;
}

try {
  cluster = await startTestCluster({ orthancs: 2, forkingDestination: true, hostConfig: () => ({ Recipes: { autorouting } }) });
  for (let s = 0; s < studyCount; s += 1) await cluster.upload(s % 2, `bench-${s}`, instances);
  await sleep(4000); // StableAge 2 s: every study is stable before the hosts start.

  const sqlite = await routeAll([0], 'SQLite');
  console.log(`one host, SQLite: ${sqlite.toFixed(0)} studies/min`);
  const onePg = await routeAll([0], 'PostgreSQL');
  console.log(`one host, PostgreSQL: ${onePg.toFixed(0)} studies/min`);
  const twoPg = await routeAll([0, 1], 'PostgreSQL');
  console.log(`two hosts, PostgreSQL: ${twoPg.toFixed(0)} studies/min`);
  const takeovers: number[] = [];
  for (let t = 0; t < Number(values.takeovers); t += 1) {
    takeovers.push(await takeover());
    console.log(`takeover ${t + 1}: ${takeovers.at(-1)} ms`);
  }

  const cell = (value: number | string) => (typeof value === 'number' ? value.toFixed(0) : value).padStart(14);
  console.log(`\n${studyCount} studies of ${instances} instances, routed to storescp; LeaseSeconds ${leaseSeconds}`);
  console.log(`${''.padEnd(34)}${cell('studies/min')}${cell('vs SQLite')}`);
  console.log(`${'one host, SQLite state'.padEnd(34)}${cell(sqlite)}${cell('1.00')}`);
  console.log(`${'one host, PostgreSQL state'.padEnd(34)}${cell(onePg)}${cell((onePg / sqlite).toFixed(2))}`);
  console.log(`${'two hosts, PostgreSQL state'.padEnd(34)}${cell(twoPg)}${cell((twoPg / sqlite).toFixed(2))}`);
  console.log(`takeover after SIGKILL (ms): p50 ${percentile(takeovers, 50)}, max ${Math.max(...takeovers)} (${takeovers.join(', ')})`);
} finally {
  await cluster?.dispose();
}

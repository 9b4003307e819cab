// Benchmark: the computation recipe's two routes, side by side in one run. One call, then three
// concurrent calls, of GET /computation (on the event loop) and GET /computation-pool (in the
// worker pool); the wall time of each batch and its ratio to one call. On 2 cores the pool's
// batch should stay near 1.5× one call (three calls' work over two cores) and the event loop's
// near 3× (one after the other). Meanwhile GET /recipes shows how long another route waits.
// Usage: npm run bench:concurrency [-- --rounds 7 --square-roots 30000000 --max-threads 0]
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startHostProcess, type HostProcess } from '../test/helpers/host.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    'square-roots': { type: 'string', default: '30000000' },
    'max-threads': { type: 'string', default: '0' },
  },
});
const rounds = Number(values.rounds);
const squareRoots = Number(values['square-roots']);
const batchSize = 3;
const dispatcher = new Agent({ connections: batchSize * 2 });

/** Wall time (ms) of `count` concurrent GETs of `url`; every answer must be the recipe's. */
async function batch(url: string, count: number, probe?: string): Promise<{ wall: number; probe: number }> {
  const start = performance.now();
  const calls = Array.from({ length: count }, async () => {
    const answer = await request(url, { dispatcher });
    const text = await answer.body.text();
    if (answer.statusCode !== 200 || !text.startsWith('computation done in')) throw new Error(`${url}: HTTP ${answer.statusCode} ${text}`);
  });
  // Another route, asked while the batch runs: how long the host keeps it waiting.
  let probeMs = NaN;
  if (probe) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const t0 = performance.now();
    await (await request(probe, { dispatcher })).body.dump();
    probeMs = performance.now() - t0;
  }
  await Promise.all(calls);
  return { wall: performance.now() - start, probe: probeMs };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const orthanc = await startTestOrthanc();
let host: HostProcess | undefined;
try {
  host = await startHostProcess({
    Orthanc: { Url: orthanc.url },
    WorkerPool: { MaxThreads: Number(values['max-threads']) },
    Recipes: { computation: { Enabled: true, SquareRoots: squareRoots } },
  });
  const routes = { 'event loop': `${host.url}/computation`, pool: `${host.url}/computation-pool` } as const;
  const loadBefore = load();
  // Warm-up: start the pool's threads and let V8 optimize the loop in each of them.
  for (let i = 0; i < 3; i += 1) {
    await batch(routes['event loop'], 1);
    await batch(routes.pool, batchSize);
  }
  const one: Record<keyof typeof routes, number[]> = { 'event loop': [], pool: [] };
  const three: Record<keyof typeof routes, number[]> = { 'event loop': [], pool: [] };
  const probes: Record<keyof typeof routes, number[]> = { 'event loop': [], pool: [] };
  // Alternating rounds, so that drift on this shared machine hits both routes alike.
  for (let round = 0; round < rounds; round += 1) {
    for (const name of Object.keys(routes) as (keyof typeof routes)[]) {
      one[name].push((await batch(routes[name], 1)).wall);
      const concurrent = await batch(routes[name], batchSize, `${host.url}/recipes`);
      three[name].push(concurrent.wall);
      probes[name].push(concurrent.probe);
    }
  }
  const system = await orthanc.json('GET', '/system');
  console.log(
    `orthanc-recipes concurrency benchmark: Orthanc ${system.Version}, Node ${process.version}, ${availableParallelism()} cores, ` +
      `${squareRoots.toLocaleString('en')} square roots a call, median of ${rounds} rounds`,
  );
  console.log(`${''.padEnd(28)} ${'event loop'.padStart(12)} ${'pool'.padStart(12)}`);
  const row = (label: string, f: (name: keyof typeof routes) => string) =>
    console.log(`${label.padEnd(28)} ${f('event loop').padStart(12)} ${f('pool').padStart(12)}`);
  row('one call', (name) => `${median(one[name]).toFixed(1)} ms`);
  row(`${batchSize} concurrent calls`, (name) => `${median(three[name]).toFixed(1)} ms`);
  row(`ratio ${batchSize} calls / one call`, (name) => `${(median(three[name]) / median(one[name])).toFixed(2)}×`);
  row('ratio, best round', (name) => `${Math.min(...three[name].map((t, i) => t / one[name][i]!)).toFixed(2)}×`);
  row('GET /recipes during the batch', (name) => `${median(probes[name]).toFixed(1)} ms`);
  console.log(
    `(ideal on ${availableParallelism()} cores: event loop ${batchSize}.00×, pool ${Math.max(1, batchSize / availableParallelism()).toFixed(2)}×; load average ${loadBefore} before, ${load()} after)`,
  );
} finally {
  await dispatcher.close();
  await host?.stop();
  await orthanc.stop();
}

// Benchmark: a page of 50 studies from /sort-studies (the paging recipe: Orthanc's OrderBy on
// 1.12.5+, its sorted index otherwise, both measured where both exist) vs the Python sample's way
// (GET /studies?expand, sort by StudyDate in memory, slice), at 1,000 and 10,000 studies, side by
// side in one run. Studies are tiny (one 8x8 instance), uploaded 8 at a time.
// Usage: npm run bench:paging [-- --sizes 1000,10000 --rounds 7]
// Against Orthanc 1.12.7: ORTHANC_TEST_ROOT=/var/cache/orthanc-recipes/trixie-root npm run bench:paging
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { eventually } from '../test/helpers/changes.js';
import { startHostProcess, type HostProcess } from '../test/helpers/host.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';
import { fillStudies } from './fill-studies.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,10000' }, rounds: { type: 'string', default: '7' } } });
const sizes = values.sizes.split(',').map(Number);
const rounds = Number(values.rounds);
// Orthanc closes an idle keep-alive connection after 1 s: keep ours shorter than that.
const dispatcher = new Agent({ connections: 16, keepAliveTimeout: 500, keepAliveTimeoutThreshold: 250 });
const LIMIT = 50;

async function get(url: string): Promise<{ json: any; headers: Record<string, unknown> }> {
  const answer = await request(url, { dispatcher });
  const text = await answer.body.text();
  if (answer.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${answer.statusCode} ${text.slice(0, 200)}`);
  return { json: JSON.parse(text), headers: answer.headers };
}

/** The Python sample (paging.py), as a client of Orthanc. */
async function sampleWay(orthancUrl: string, offset: number): Promise<unknown[]> {
  const { json: studies } = await get(`${orthancUrl}/studies?expand`);
  studies.sort((a: any, b: any) => String(a.MainDicomTags.StudyDate ?? '').localeCompare(String(b.MainDicomTags.StudyDate ?? '')));
  return studies.slice(offset, offset + LIMIT);
}

async function timedMedian(run: (round: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const started = performance.now();
    await run(round);
    times.push(performance.now() - started);
  }
  return [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
const orthanc = await startTestOrthanc();
const hosts: HostProcess[] = [];
try {
  const system = await orthanc.json('GET', '/system');
  const hasFind = system.Capabilities?.HasExtendedFind === true;
  console.log(`Orthanc ${system.Version}, ${LIMIT} studies per page, median of ${rounds} pages at spread offsets; load before: ${load()}`);
  const rows: string[][] = [
    [
      'studies',
      'fill (s)',
      'sample: /studies?expand + sort (ms)',
      'recipe, index (ms)',
      hasFind ? "recipe, Orthanc's OrderBy (ms)" : 'recipe, OrderBy',
      'index built (s)',
    ],
  ];
  let stored = 0;
  for (const size of sizes) {
    const fillStarted = performance.now();
    await fillStudies(orthanc.url, stored, size, { prefix: 'BP', dispatcher });
    stored = size;
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    // A new host per size: its index is built from scratch by the full pass, which is timed.
    const indexStarted = performance.now();
    const indexed = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { paging: { Enabled: true, Engine: 'index' } } });
    hosts.push(indexed);
    await eventually(
      async () =>
        (await request(`${indexed.url}/sort-studies?limit=1`, { dispatcher }).then(async (a) => (await a.body.dump(), a.statusCode))) ===
        200,
      600_000,
      'the index',
    );
    const indexSeconds = (performance.now() - indexStarted) / 1000;
    const offsetOf = (round: number) => Math.floor(((round + 0.5) / rounds) * (size - LIMIT));
    const sample = await timedMedian((round) => sampleWay(orthanc.url, offsetOf(round)));
    const index = await timedMedian(async (round) => {
      const { json, headers } = await get(`${indexed.url}/sort-studies?offset=${offsetOf(round)}&limit=${LIMIT}`);
      if (json.length !== LIMIT || headers['x-total-count'] !== String(size))
        throw new Error(`index: ${json.length} studies, total ${String(headers['x-total-count'])}`);
    });
    let find = NaN;
    if (hasFind) {
      const auto = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { paging: { Enabled: true, Engine: 'find' } } });
      hosts.push(auto);
      find = await timedMedian(async (round) => {
        const { json } = await get(`${auto.url}/sort-studies?offset=${offsetOf(round)}&limit=${LIMIT}`);
        if (json.length !== LIMIT) throw new Error(`find: ${json.length} studies`);
      });
      await auto.stop();
    }
    await indexed.stop();
    rows.push([
      String(size),
      fillSeconds.toFixed(0),
      sample.toFixed(1),
      index.toFixed(1),
      hasFind ? find.toFixed(1) : 'n/a (Orthanc < 1.12.5)',
      indexSeconds.toFixed(1),
    ]);
  }
  const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  console.log(`load after: ${load()}`);
} finally {
  for (const host of hosts) await host.stop().catch(() => undefined);
  await orthanc.stop();
  await dispatcher.close();
}

// Benchmark: what the Lua bridge adds to each stored instance, in one run and side by side.
// Two Orthancs on the same machine: one alone, one running the script of `orthanc-recipes bridge`
// with the receive-filter recipe (one rule that never matches, so every instance is asked about
// and kept). Each upload is a `POST /instances` of a new small instance, on a keep-alive client,
// at concurrency 1 and 8, rounds alternating between the two Orthancs.
// Usage: npm run bench:bridge [-- --instances 200 --rounds 3]
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Agent, request } from 'undici';
import { getFreePort } from '../host/index.js';
import { generateStudy } from '../test/helpers/dicom.js';
import { cliPath, startHostProcess } from '../test/helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from '../test/helpers/orthanc.js';

const { values } = parseArgs({ options: { instances: { type: 'string', default: '200' }, rounds: { type: 'string', default: '3' } } });
const perRound = Number(values.instances);
const rounds = Number(values.rounds);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const cell = (value: number | string, width = 12) => (typeof value === 'number' ? value.toFixed(2) : value).padStart(width);

const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-bench-bridge-'));
const bridgePort = await getFreePort();
const config = {
  Orthanc: { Url: 'http://127.0.0.1:1' },
  StateDirectory: './state',
  Bridge: { Port: bridgePort },
  Recipes: { 'receive-filter': { Enabled: true, Rules: [{ Action: 'Reject', Filter: { Modality: 'XX' } }] } },
};
await writeFile(join(folder, 'orthanc-recipes.json'), JSON.stringify(config));
const script = join(folder, 'bridge.lua');
await promisify(execFile)(process.execPath, [cliPath, 'bridge', '--config', join(folder, 'orthanc-recipes.json'), '--output', script]);

const alone = await startTestOrthanc();
const bridged = await startTestOrthanc({ configuration: { LuaScripts: [script] } });
const host = await startHostProcess({ ...config, Orthanc: { Url: bridged.url } }, folder);
const agent = new Agent({ connections: 16, keepAliveTimeout: 500 });

let serial = 0;
function instances(count: number): Buffer[] {
  serial += 1;
  return generateStudy({
    patientId: `BENCH-${serial}`,
    patientName: 'Bench^Bridge',
    studyDate: '20240101',
    series: [{ modality: 'CT', instances: count }],
  }).map((i) => i.file);
}

/** Uploads `files` with `concurrency` uploads in flight; the time of each, in ms. */
async function upload(orthanc: TestOrthanc, files: Buffer[], concurrency: number): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < files.length) {
        const file = files[next++]!;
        const started = performance.now();
        const answer = await request(`${orthanc.url}/instances`, { method: 'POST', body: file, dispatcher: agent });
        await answer.body.text();
        if (answer.statusCode !== 200) throw new Error(`upload: HTTP ${answer.statusCode}`);
        times.push(performance.now() - started);
      }
    }),
  );
  return times;
}

try {
  // Warm both (connections, Lua's first call) before measuring.
  await upload(alone, instances(20), 1);
  await upload(bridged, instances(20), 1);
  const loadBefore = loadavg()[0]!;
  console.log(
    `bridge benchmark: ${rounds} rounds of ${perRound} uploads per Orthanc and concurrency; Orthanc ${(await alone.json('GET', '/system')).Version}`,
  );
  console.log(
    `${'concurrency'.padEnd(12)}${cell('alone p50')}${cell('bridged p50')}${cell('added p50')}${cell('alone p95')}${cell('bridged p95')}${cell('added p95')}`,
  );
  for (const concurrency of [1, 8]) {
    const times = { alone: [] as number[], bridged: [] as number[] };
    for (let round = 0; round < rounds; round += 1) {
      times.alone.push(...(await upload(alone, instances(perRound), concurrency)));
      times.bridged.push(...(await upload(bridged, instances(perRound), concurrency)));
    }
    const a = times.alone.sort((x, y) => x - y);
    const b = times.bridged.sort((x, y) => x - y);
    console.log(
      `${`c=${concurrency}`.padEnd(12)}${cell(percentile(a, 50))}${cell(percentile(b, 50))}${cell(percentile(b, 50) - percentile(a, 50))}` +
        `${cell(percentile(a, 95))}${cell(percentile(b, 95))}${cell(percentile(b, 95) - percentile(a, 95))}`,
    );
  }
  const described = JSON.parse(await (await fetch(`${host.url}/recipes`)).text()) as { Bridge: Record<string, number> };
  console.log(
    `bridge calls answered: ${described.Bridge.Calls}, unanswered: ${described.Bridge.UnansweredByHost}; load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} (2 cores)`,
  );
} finally {
  await agent.close();
  await host.stop();
  await alone.stop();
  await bridged.stop();
  await rm(folder, { recursive: true, force: true });
}

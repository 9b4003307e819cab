// Benchmark: thumbnails of 512×512 instances. 200 requests over 50 instances, at concurrency 1
// and 8, side by side in one run: the recipe with a cold cache (a fresh host that keeps nothing,
// so every request renders) and warm (everything in the cache), the seed sample's approach
// (Orthanc's full-size /rendered, then sharp in the same process, no cache), and Orthanc's own
// /rendered (full size, and 64 px JPEG), and the host's floor (hello's /toto). Every process is
// warmed up first (1000 requests). Requests/s and p50 latency, and the ratios to the sample.
// Usage: npm run bench:thumbnails [-- --rounds 3]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { generateStudy } from '../test/helpers/dicom.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const REQUESTS = 200;
const INSTANCES = 50;
/** Unmeasured passes of 200 requests before each measure: V8 needs a few thousand calls to optimize. */
const WARM_UP_PASSES = 5;

interface Result {
  elapsedMs: number;
  latencies: number[];
  errors: string[];
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** GETs each URL once, `concurrency` at a time, in order; every answer must be a 200. */
async function load(urls: string[], concurrency: number, headers: Record<string, string> = {}): Promise<Result> {
  const dispatcher = new Agent({ connections: concurrency, keepAliveTimeoutThreshold: 250 });
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < urls.length) {
      const url = urls[next++]!;
      const t0 = performance.now();
      try {
        const answer = await request(url, { dispatcher, headers });
        const body = await answer.body.arrayBuffer();
        if (answer.statusCode !== 200) throw new Error(`HTTP ${answer.statusCode} ${Buffer.from(body).toString().slice(0, 200)}`);
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors.push(error instanceof Error ? error.message.split('\n')[0]! : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  await dispatcher.close();
  return { elapsedMs, latencies, errors };
}

function merge(results: Result[]): Result {
  return {
    elapsedMs: results.reduce((n, r) => n + r.elapsedMs, 0),
    latencies: results.flatMap((r) => r.latencies).sort((a, b) => a - b),
    errors: results.flatMap((r) => r.errors),
  };
}

/** `load`, unmeasured, WARM_UP_PASSES times. */
async function warmUp(urls: string[], concurrency: number, headers: Record<string, string> = {}): Promise<void> {
  for (let pass = 0; pass < WARM_UP_PASSES; pass += 1) await load(urls, concurrency, headers);
}

/** A host process running bench/thumbnails-host.js with this configuration. */
async function startHost(config: Record<string, unknown>): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [new URL('./thumbnails-host.js', import.meta.url).pathname, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found) resolve(found[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the bench host exited (${code}): ${output}`)));
  });
  return {
    url,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const orthanc = await startTestOrthanc();
try {
  // `ids` are measured; `spare` ones warm each process up first (JIT, connections), so that a
  // "cold" figure is that of an empty cache, not of a process that just started (CacheMegabytes 0
  // keeps no thumbnail; the Rows and Columns of the measured instances are not known yet either).
  const upload = async () => {
    const study = generateStudy({
      patientId: 'RCP-BENCH',
      patientName: 'Bench^Thumbnails',
      studyDate: '20240601',
      size: 512,
      series: [{ modality: 'CT', instances: INSTANCES }],
    });
    const stored: string[] = [];
    for (const instance of study) stored.push((await orthanc.upload(instance.file)).ID);
    return stored;
  };
  const ids = await upload();
  const spare = await upload();
  const paths = (prefix: string, suffix: string, of = ids) =>
    Array.from({ length: REQUESTS }, (_, n) => `${prefix}/instances/${of[n % INSTANCES]}/${suffix}`);
  const recipes = (CacheMegabytes: number) => ({
    Orthanc: { Url: orthanc.url },
    LogLevel: 'warning',
    Recipes: {
      hello: { Enabled: true, LogChanges: false },
      thumbnails: { Enabled: true, CacheMegabytes },
      'sample-thumbnail': { Enabled: true },
    },
  });
  const warmHost = await startHost(recipes(64));
  const system = await orthanc.json<{ Version: string }>('GET', '/system');
  console.log(
    `orthanc-recipes thumbnails benchmark: Orthanc ${system.Version}, Node ${process.version}, ${REQUESTS} requests over ${INSTANCES} instances of 512×512 (16-bit CT), 64 px JPEG q80, ${rounds} round(s) merged`,
  );
  try {
    const orthanc64 = 'rendered?width=64&height=64&quality=80';
    const jpeg = { accept: 'image/jpeg' };
    for (const concurrency of [1, 8]) {
      const measured: Record<string, Result[]> = { cold: [], warm: [], sample: [], orthancFull: [], orthanc64: [], floor: [] };
      const floor = (url: string) => Array.from({ length: REQUESTS }, () => `${url}/toto`);
      for (let round = 0; round < rounds; round += 1) {
        // Cold: a fresh host that keeps no thumbnail (CacheMegabytes 0), so each request renders.
        const coldHost = await startHost(recipes(0));
        try {
          await warmUp(paths(coldHost.url, 'thumbnail', spare), concurrency);
          measured.cold!.push(await load(paths(coldHost.url, 'thumbnail'), concurrency));
          await warmUp(paths(`${coldHost.url}/sample`, 'thumbnail', spare), concurrency);
          measured.sample!.push(await load(paths(`${coldHost.url}/sample`, 'thumbnail'), concurrency));
        } finally {
          await coldHost.stop();
        }
        // Warm: every thumbnail already in the cache (the first pass fills it).
        await warmUp(paths(warmHost.url, 'thumbnail'), concurrency);
        measured.warm!.push(await load(paths(warmHost.url, 'thumbnail'), concurrency));
        await warmUp(floor(warmHost.url), concurrency);
        measured.floor!.push(await load(floor(warmHost.url), concurrency));
        await warmUp(paths(orthanc.url, 'rendered', spare), concurrency);
        measured.orthancFull!.push(await load(paths(orthanc.url, 'rendered'), concurrency));
        await warmUp(paths(orthanc.url, orthanc64, spare), concurrency, jpeg);
        measured.orthanc64!.push(await load(paths(orthanc.url, orthanc64), concurrency, jpeg));
      }
      const rows: [string, Result][] = [
        ['recipe, cold cache', merge(measured.cold!)],
        ['recipe, warm cache', merge(measured.warm!)],
        ["the sample's approach", merge(measured.sample!)],
        ["Orthanc's /rendered, full size PNG", merge(measured.orthancFull!)],
        ["Orthanc's /rendered?width=64 JPEG", merge(measured.orthanc64!)],
        ["the host's floor: hello's /toto", merge(measured.floor!)],
      ];
      const rps = (r: Result) => (r.latencies.length / r.elapsedMs) * 1000;
      const sample = rps(rows[2]![1]);
      console.log(
        `\nconcurrency ${concurrency}${''.padEnd(26)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(9)} ${'vs sample'.padStart(10)}`,
      );
      for (const [label, result] of rows) {
        const ratio = `${(rps(result) / sample).toFixed(2)}×`;
        console.log(
          `  ${label.padEnd(37)} ${rps(result).toFixed(0).padStart(9)} ${percentile(result.latencies, 50).toFixed(2).padStart(9)} ${ratio.padStart(10)}`,
        );
        if (result.errors.length > 0) console.log(`    ${result.errors.length} errors, e.g. ${result.errors[0]}`);
      }
    }
    console.log(
      `\n(targets: cold ≥ 2× and warm ≥ 20× the sample's approach; client, host and Orthanc share this machine's ${availableParallelism()} cores)`,
    );
  } finally {
    await warmHost.stop();
  }
} finally {
  await orthanc.stop();
}

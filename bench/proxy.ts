// Benchmark: Orthanc straight vs through the host's front, side by side in one run.
// GET /system and a 50 MB instance download, at concurrency 1 and 16; requests/s, p50/p99
// latency, MB/s, the ratio host/direct, and the host's peak RSS while streaming. Then a 50 MB
// challenge-then-retry upload (as httplib2, .NET or Java send it: the whole body without
// credentials, the 401, the whole body again with them, on one keep-alive connection).
// Usage: npm run bench:proxy [-- --seconds 5] [-- --baseline DIR]
// With --baseline (another checkout, built: e.g. `git archive main | tar -x -C DIR`, node_modules
// linked, `npx tsc -p DIR/tsconfig.json`), the two columns are that checkout's host ("before")
// and this one's ("after") in front of the same Orthanc, in alternating rounds.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startHostProcess, type HostProcess } from '../test/helpers/host.js';
import { writeLargeInstance } from '../test/helpers/dicom.js';
import { memoryOf, resetPeak } from '../test/helpers/memory.js';
import { startTestOrthanc, type TestOrthanc } from '../test/helpers/orthanc.js';
import { RawConnection, requestHead } from '../test/helpers/raw-http.js';
import { basicAuth } from '../test/helpers/http.js';

const MB = 2 ** 20;
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, baseline: { type: 'string' } } });
const seconds = Number(values.seconds);
const baselineCli = values.baseline ? join(values.baseline, 'bin', 'orthanc-recipes.js') : undefined;
const [leftLabel, rightLabel] = baselineCli ? ['before', 'after'] : ['direct', 'via host'];

interface Result {
  requests: number;
  /** Requests that failed (a socket error or a status other than 200); not counted in `requests`. */
  errors: string[];
  bytes: number;
  elapsedMs: number;
  latencies: number[];
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * Measures direct and via-host in alternating rounds (direct, host, direct, host, …), so that
 * drift on this shared machine (page cache, CPU frequency, other load) hits both sides alike.
 */
async function compare(directUrl: string, hostUrl: string, concurrency: number, durationMs: number, minRequests: number, rounds = 3) {
  const merge = (results: Result[]): Result => ({
    requests: results.reduce((n, r) => n + r.requests, 0),
    errors: results.flatMap((r) => r.errors),
    bytes: results.reduce((n, r) => n + r.bytes, 0),
    elapsedMs: results.reduce((n, r) => n + r.elapsedMs, 0),
    latencies: results.flatMap((r) => r.latencies).sort((a, b) => a - b),
  });
  const direct: Result[] = [];
  const viaHost: Result[] = [];
  for (let round = 0; round < rounds; round += 1) {
    direct.push(await load(directUrl, concurrency, durationMs / rounds, minRequests));
    viaHost.push(await load(hostUrl, concurrency, durationMs / rounds, minRequests));
  }
  return { direct: merge(direct), viaHost: merge(viaHost) };
}

/** Runs `concurrency` loops of GET `url` for `durationMs` (at least `minRequests` in all). */
async function load(url: string, concurrency: number, durationMs: number, minRequests: number): Promise<Result> {
  const dispatcher = new Agent({ connections: concurrency, keepAliveTimeoutThreshold: 250 });
  const latencies: number[] = [];
  const errors: string[] = [];
  let bytes = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async () => {
    while ((performance.now() < deadline || latencies.length < minRequests) && errors.length < 10) {
      const t0 = performance.now();
      try {
        const answer = await request(url, { dispatcher });
        if (answer.statusCode !== 200) throw new Error(`HTTP ${answer.statusCode} ${await answer.body.text()}`);
        for await (const chunk of answer.body) bytes += (chunk as Buffer).length;
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors.push(error instanceof Error ? error.message.split('\n')[0]! : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  await dispatcher.close();
  return { requests: latencies.length, errors, bytes, elapsedMs, latencies: latencies.sort((a, b) => a - b) };
}

function errorRow(label: string, direct: Result, host: Result): string | undefined {
  if (direct.errors.length === 0 && host.errors.length === 0) return undefined;
  const first = [...direct.errors.map((e) => `direct: ${e}`), ...host.errors.map((e) => `host: ${e}`)][0];
  return `${`${label} errors`.padEnd(34)} ${String(direct.errors.length).padStart(10)} ${String(host.errors.length).padStart(10)}  (${first})`;
}

function row(label: string, direct: number, host: number, unit: string, digits = 1): string {
  const ratio = host / direct;
  return `${label.padEnd(34)} ${direct.toFixed(digits).padStart(10)} ${host.toFixed(digits).padStart(10)}  ${unit.padEnd(6)} ${ratio.toFixed(2).padStart(6)}×`;
}

/**
 * One challenge-then-retry upload on one connection: milliseconds for the whole exchange, and
 * whether the retry could use the same connection (else it opens a new one, as clients do).
 */
async function challengeThenRetry(url: string, file: Buffer, authorization: string): Promise<{ ms: number; sameConnection: boolean }> {
  const t0 = performance.now();
  let connection = await RawConnection.open(url);
  // A failed write shows as a missing answer below; caught here so that it never crashes the run.
  const send = (headers: Record<string, string | number>) =>
    connection
      .write(
        Buffer.concat([
          Buffer.from(
            requestHead('POST', '/instances', { 'Content-Type': 'application/dicom', 'Content-Length': file.length, ...headers }),
          ),
          file,
        ]),
      )
      .catch(() => undefined);
  const sent = send({});
  const challenge = await connection.readAnswer({ timeoutMs: 60_000 });
  await sent;
  if (challenge.status !== 401) throw new Error(`expected a 401 challenge, got ${challenge.status}`);
  const sameConnection = challenge.headers.connection !== 'close';
  if (!sameConnection) {
    connection.destroy();
    connection = await RawConnection.open(url);
  }
  const retried = send({ Authorization: authorization });
  const stored = await connection.readAnswer({ timeoutMs: 60_000 });
  await retried;
  connection.destroy();
  if (stored.status !== 200) throw new Error(`expected 200 on the retry, got ${stored.status} ${stored.body.toString()}`);
  return { ms: performance.now() - t0, sameConnection };
}

const orthanc = await startTestOrthanc();
let host: HostProcess | undefined;
let baselineHostRef: HostProcess | undefined;
try {
  host = await startHostProcess({ Orthanc: { Url: orthanc.url } });
  const pid = host.child.pid!;
  // The left column: Orthanc itself, or the baseline's host in front of it.
  const baselineHost = baselineCli ? await startHostProcess({ Orthanc: { Url: orthanc.url } }, undefined, {}, baselineCli) : undefined;
  baselineHostRef = baselineHost;
  const left = baselineHost?.url ?? orthanc.url;
  const file = join(orthanc.directory, 'bench-50mb.dcm');
  await writeLargeInstance(file, 50 * MB);
  const size = (await stat(file)).size;
  const stored = await orthanc.upload(await readFile(file));
  const download = `/instances/${stored.ID}/file`;

  console.log(
    `orthanc-recipes proxy benchmark: Orthanc ${(await orthanc.json('GET', '/system')).Version}, Node ${process.version}, ${seconds} s per measure`,
  );
  console.log(`${''.padEnd(34)} ${leftLabel.padStart(10)} ${rightLabel.padStart(10)}  ${'unit'.padEnd(6)} ${'ratio'.padStart(7)}`);
  for (const concurrency of [1, 16]) {
    await load(`${left}/system`, concurrency, 500, 0); // warm-up
    await load(`${host.url}/system`, concurrency, 500, 0);
    const { direct, viaHost } = await compare(`${left}/system`, `${host.url}/system`, concurrency, seconds * 1000, 0);
    const rps = (r: Result) => (r.requests / r.elapsedMs) * 1000;
    console.log(row(`GET /system c=${concurrency} throughput`, rps(direct), rps(viaHost), 'req/s', 0));
    console.log(row(`GET /system c=${concurrency} p50`, percentile(direct.latencies, 50), percentile(viaHost.latencies, 50), 'ms', 3));
    console.log(row(`GET /system c=${concurrency} p99`, percentile(direct.latencies, 99), percentile(viaHost.latencies, 99), 'ms', 3));
    const systemErrors = errorRow(`GET /system c=${concurrency}`, direct, viaHost);
    if (systemErrors) console.log(systemErrors);
    if (concurrency === 1) {
      const added = percentile(viaHost.latencies, 50) - percentile(direct.latencies, 50);
      console.log(`${'GET /system c=1 p50 added by host'.padEnd(34)} ${added.toFixed(3).padStart(21)}  ms`);
    }
  }
  for (const concurrency of [1, 16]) {
    await load(`${host.url}${download}`, concurrency, 0, concurrency); // warm-up
    resetPeak(pid);
    const before = memoryOf(pid).rss;
    const { direct, viaHost } = await compare(`${left}${download}`, `${host.url}${download}`, concurrency, seconds * 1000, concurrency);
    const peakGrowth = Math.max(0, memoryOf(pid).peak - before);
    const mbps = (r: Result) => r.bytes / MB / (r.elapsedMs / 1000);
    console.log(row(`50 MB download c=${concurrency} throughput`, mbps(direct), mbps(viaHost), 'MB/s', 0));
    console.log(row(`50 MB download c=${concurrency} p50`, percentile(direct.latencies, 50), percentile(viaHost.latencies, 50), 'ms', 0));
    console.log(row(`50 MB download c=${concurrency} p99`, percentile(direct.latencies, 99), percentile(viaHost.latencies, 99), 'ms', 0));
    const downloadErrors = errorRow(`50 MB download c=${concurrency}`, direct, viaHost);
    if (downloadErrors) console.log(downloadErrors);
    console.log(
      `${`50 MB download c=${concurrency} host RSS`.padEnd(34)} ${`${(before / MB).toFixed(0)} MB before, peak +${(peakGrowth / MB).toFixed(1)} MB`.padStart(34)}`,
    );
  }
  // Challenge-then-retry needs an Orthanc that requires credentials, and a host in front of it.
  let secured: TestOrthanc | undefined;
  let securedHost: HostProcess | undefined;
  let securedBaseline: HostProcess | undefined;
  try {
    secured = await startTestOrthanc({ configuration: { AuthenticationEnabled: true, RegisteredUsers: { bench: 'bench' } } });
    securedHost = await startHostProcess({ Orthanc: { Url: secured.url, Username: 'bench', Password: 'bench' } });
    securedBaseline = baselineCli
      ? await startHostProcess({ Orthanc: { Url: secured.url, Username: 'bench', Password: 'bench' } }, undefined, {}, baselineCli)
      : undefined;
    const securedLeft = securedBaseline?.url ?? secured.url;
    const file = await readFile(join(orthanc.directory, 'bench-50mb.dcm'));
    const authorization = basicAuth('bench', 'bench');
    await challengeThenRetry(securedLeft, file, authorization); // warm-up: the instance is stored from now on
    await challengeThenRetry(securedHost.url, file, authorization);
    const direct: number[] = [];
    const viaHost: number[] = [];
    let reused = true;
    for (let round = 0; round < 5; round += 1) {
      direct.push((await challengeThenRetry(securedLeft, file, authorization)).ms);
      const hosted = await challengeThenRetry(securedHost.url, file, authorization);
      viaHost.push(hosted.ms);
      reused &&= hosted.sameConnection;
    }
    direct.sort((a, b) => a - b);
    viaHost.sort((a, b) => a - b);
    const mbps = (ms: number) => (2 * file.length) / MB / (ms / 1000);
    console.log(row('50 MB challenge+retry p50', percentile(direct, 50), percentile(viaHost, 50), 'ms', 0));
    console.log(row('50 MB challenge+retry throughput', mbps(percentile(direct, 50)), mbps(percentile(viaHost, 50)), 'MB/s', 0));
    console.log(
      `${'50 MB challenge+retry connection'.padEnd(34)} ${'kept'.padStart(10)} ${(reused ? 'kept' : 'reopened').padStart(10)}  (the 401 answers the first 50 MB; both bodies count in MB/s)`,
    );
  } catch (error) {
    console.log(`${'50 MB challenge+retry'.padEnd(34)} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  } finally {
    await securedHost?.stop();
    await securedBaseline?.stop();
    await secured?.stop();
  }
  console.log(
    `(file ${(size / MB).toFixed(1)} MB; client, host and Orthanc share this machine's ${(await import('node:os')).availableParallelism()} cores)`,
  );
} finally {
  await host?.stop();
  await baselineHostRef?.stop();
  await orthanc.stop();
}

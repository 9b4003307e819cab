// What the hostile-input suite (test/hostile-recipes.test.ts) and its benchmark (bench/hostile.ts)
// share: a deflate bomb, a latency probe, and the hostile requests themselves.
import { constants, createDeflateRaw } from 'node:zlib';
import dcmjs from 'dcmjs';
import { Agent, request } from 'undici';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CT_IMAGE_STORAGE, generateStudy, toPart10, writeLargeInstance } from './dicom.js';
import type { HostMeasure, MeasuredHost } from './measured-host.js';

const { DicomMetaDictionary } = dcmjs.data;
export const DEFLATED_TRANSFER_SYNTAX = '1.2.840.10008.1.2.1.99';
export const MiB = 2 ** 20;

/** A File Meta Information group (explicit VR little endian), after the preamble and `DICM`. */
function fileMeta(sopClassUid: string, sopInstanceUid: string, transferSyntax: string): Buffer {
  const uid = (group: number, element: number, value: string) => {
    const text = Buffer.from(value.length % 2 ? `${value}\0` : value, 'latin1');
    const head = Buffer.alloc(8);
    head.writeUInt16LE(group, 0);
    head.writeUInt16LE(element, 2);
    head.write('UI', 4, 'latin1');
    head.writeUInt16LE(text.length, 6);
    return Buffer.concat([head, text]);
  };
  const version = Buffer.from([0x02, 0x00, 0x01, 0x00, 0x4f, 0x42, 0, 0, 2, 0, 0, 0, 0x00, 0x01]);
  const elements = Buffer.concat([
    version,
    uid(2, 2, sopClassUid),
    uid(2, 3, sopInstanceUid),
    uid(2, 0x10, transferSyntax),
    uid(2, 0x12, '1.2.826.0.1.3680043.10.1391.1'),
  ]);
  const length = Buffer.alloc(12);
  length.writeUInt16LE(2, 0);
  length.writeUInt16LE(0, 2);
  length.write('UL', 4, 'latin1');
  length.writeUInt16LE(4, 6);
  length.writeUInt32LE(elements.length, 8);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), length, elements]);
}

/**
 * A DICOM file in the deflated transfer syntax whose PixelData inflates to `inflatedBytes` of
 * zeros: about a thousandth of that on disk (1 GiB → 1.04 MB). Orthanc accepts and stores it.
 */
export async function deflateBomb(inflatedBytes: number): Promise<{ file: Buffer; sopInstanceUid: string }> {
  const sopInstanceUid = DicomMetaDictionary.uid();
  const side = 1024;
  const frameBytes = side * side * 2;
  const frames = Math.max(1, Math.floor(inflatedBytes / frameBytes));
  const whole = toPart10({
    SOPClassUID: CT_IMAGE_STORAGE,
    SOPInstanceUID: sopInstanceUid,
    StudyInstanceUID: DicomMetaDictionary.uid(),
    SeriesInstanceUID: DicomMetaDictionary.uid(),
    PatientID: 'RCP-BOMB',
    PatientName: 'Deflate^Bomb',
    Modality: 'CT',
    NumberOfFrames: String(frames),
    Rows: side,
    Columns: side,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
  });
  const dataset = whole.subarray(144 + whole.readUInt32LE(140));
  const pixelHeader = Buffer.alloc(12);
  pixelHeader.writeUInt16LE(0x7fe0, 0);
  pixelHeader.writeUInt16LE(0x0010, 2);
  pixelHeader.write('OW', 4, 'latin1');
  pixelHeader.writeUInt32LE(frames * frameBytes, 8);
  const deflater = createDeflateRaw({ level: 9, strategy: constants.Z_RLE });
  const out: Buffer[] = [];
  deflater.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve, reject) => deflater.on('end', resolve).on('error', reject));
  const write = async (chunk: Buffer) => {
    if (!deflater.write(chunk)) await new Promise((resolve) => deflater.once('drain', resolve));
  };
  await write(Buffer.from(dataset));
  await write(pixelHeader);
  const zeros = Buffer.alloc(16 * MiB);
  for (let left = frames * frameBytes; left > 0; left -= zeros.length) await write(left >= zeros.length ? zeros : zeros.subarray(0, left));
  deflater.end();
  await ended;
  return { file: Buffer.concat([fileMeta(CT_IMAGE_STORAGE, sopInstanceUid, DEFLATED_TRANSFER_SYNTAX), ...out]), sopInstanceUid };
}

/** Latencies of a cheap request sent again and again (each after the previous answer and a pause). */
export class LatencyProbe {
  readonly latenciesMs: number[] = [];
  readonly failures: string[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly dispatcher = new Agent({ connections: 1 });

  constructor(
    private readonly url: string,
    private readonly intervalMs = 20,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = performance.now();
        try {
          const answer = await request(this.url, { dispatcher: this.dispatcher });
          await answer.body.dump();
          if (answer.statusCode !== 200) this.failures.push(`HTTP ${answer.statusCode}`);
        } catch (error) {
          this.failures.push(String(error));
        }
        this.latenciesMs.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.dispatcher.close();
  }

  percentile(p: number): number {
    const sorted = [...this.latenciesMs].sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  }
}

/** One hostile request and what came back. */
export interface HostileOutcome {
  name: string;
  method: string;
  path: string;
  status: number;
  /** The answer's JSON, when it is JSON. */
  json: unknown;
  error?: string;
}

export interface HostileRequest {
  name: string;
  method?: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

const hostileAgent = new Agent({ connections: 64, pipelining: 1 });

/** Sends one request and reads its answer (the body is parsed as JSON when it says it is). */
export async function send(baseUrl: string, hostile: HostileRequest): Promise<HostileOutcome> {
  const method = hostile.method ?? 'GET';
  try {
    const answer = await request(`${baseUrl}${hostile.path}`, {
      method: method as 'GET',
      body: hostile.body,
      headers: hostile.headers,
      dispatcher: hostileAgent,
    });
    const text = await answer.body.text();
    let json: unknown;
    if (String(answer.headers['content-type'] ?? '').includes('json')) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { name: hostile.name, method, path: hostile.path, status: answer.statusCode, json };
  } catch (error) {
    return { name: hostile.name, method, path: hostile.path, status: 0, json: undefined, error: String(error) };
  }
}

/** Every recipe route of the suite's host, with a placeholder `{id}` for an instance, series or study. */
export const recipeRoutes = [
  { path: '/toto', methods: ['GET', 'POST'] },
  { path: '/tata', methods: ['GET', 'POST'] },
  { path: '/instances/{instance}/dcmjs', methods: ['GET'] },
  { path: '/tools/find', methods: ['POST'] },
  { path: '/instances/{instance}/thumbnail', methods: ['GET'] },
  { path: '/series/{series}/thumbnail', methods: ['GET'] },
  { path: '/studies/{study}/thumbnail', methods: ['GET'] },
  { path: '/recipes/introspection', methods: ['GET'] },
  { path: '/recipes/stored-instances/recent', methods: ['GET'] },
  { path: '/recipes/ui/', methods: ['GET'] },
  { path: '/recipes/ui/config.json', methods: ['GET'] },
  { path: '/recipes/scheduler/tasks', methods: ['GET'] },
  { path: '/recipes/scheduler/tasks/none/run', methods: ['POST'] },
  { path: '/recipes/autorouting/status', methods: ['GET'] },
  { path: '/recipes/autorouting/retry', methods: ['POST'] },
  { path: '/computation-pool', methods: ['GET'] },
  { path: '/recipes', methods: ['GET'] },
] as const;

export interface HostileFixtures {
  instance: string;
  series: string;
  study: string;
  /** A large instance (tens of MB). */
  large: string;
  /** The deflate bomb's instance. */
  bomb: string;
}

const fill = (path: string, fixtures: HostileFixtures) =>
  path.replace('{instance}', fixtures.instance).replace('{series}', fixtures.series).replace('{study}', fixtures.study);

/** Bodies and parameters no route should choke on: oversized, malformed, prototype keys. */
export function malformedRequests(fixtures: HostileFixtures): HostileRequest[] {
  const requests: HostileRequest[] = [];
  const twoMiB = Buffer.alloc(2 * MiB, 0x7b);
  for (const route of recipeRoutes) {
    const path = fill(route.path, fixtures);
    for (const method of route.methods) {
      requests.push({
        name: `${method} ${route.path}: 2 MiB body`,
        method: method === 'GET' ? 'POST' : method,
        path,
        body: twoMiB,
        headers: { 'content-type': 'application/json' },
      });
      requests.push({
        name: `${method} ${route.path}: malformed JSON`,
        method,
        path,
        body: '{"Level": "Study", "Metadata": {',
        headers: { 'content-type': 'application/json' },
      });
      for (const key of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
        requests.push({
          name: `${method} ${route.path}?format=${key}`,
          method,
          path: `${path}?format=${key}&limit=${key}&size=${key}&id=${key}&${key}=1`,
        });
      }
      requests.push({ name: `${method} ${route.path}: long query`, method, path: `${path}?format=${'x'.repeat(8000)}` });
    }
  }
  for (const key of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf']) {
    requests.push({
      name: `/tools/find Level ${key}`,
      method: 'POST',
      path: '/tools/find',
      body: JSON.stringify({ Level: key, Query: {}, Metadata: { A: 'x' } }),
    });
    requests.push({
      name: `/tools/find Metadata key ${key}`,
      method: 'POST',
      path: '/tools/find',
      body: `{"Level":"Study","Query":{},"Metadata":{"${key}":"x"},"MetadataMatching":"Regex"}`,
    });
    requests.push({
      name: `/tools/find MetadataMatching ${key}`,
      method: 'POST',
      path: '/tools/find',
      body: JSON.stringify({ Level: 'Study', Query: {}, Metadata: { A: 'x' }, MetadataMatching: key }),
    });
  }
  for (const body of [
    'null',
    '[]',
    '"text"',
    '{"Metadata": null, "Level": "Study"}',
    '{"Metadata": {"A": 1}, "Level": "Study"}',
    '{"Metadata": {"A": "("}, "Level": "Study"}',
    '{"Metadata": {"A": "x"}, "Level": "Study", "Limit": -1}',
  ]) {
    requests.push({ name: `/tools/find body ${body}`, method: 'POST', path: '/tools/find', body });
  }
  requests.push({ name: 'dcmjs of an unknown instance', path: '/instances/unknown/dcmjs' });
  requests.push({ name: 'thumbnail of an unknown instance', path: '/instances/unknown/thumbnail' });
  requests.push({ name: 'thumbnail size 0', path: `/instances/${fixtures.instance}/thumbnail?size=0` });
  requests.push({ name: 'thumbnail frame 99999', path: `/instances/${fixtures.instance}/thumbnail?frame=99999` });
  return requests;
}

/** `/tools/find` bodies whose patterns would cost the host dearly: many, or large once compiled. */
export function pathologicalFinds(): HostileRequest[] {
  const metadata = (count: number, pattern: (i: number) => string) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`M${i}`, pattern(i)]));
  const find = (name: string, entries: Record<string, string>, extra: object = {}) => ({
    name,
    method: 'POST',
    path: '/tools/find',
    body: JSON.stringify({ Level: 'Instance', Query: {}, Metadata: entries, ...extra }),
  });
  return [
    // The probes: 50,000 keys (1.6 MB), and 2,000 keys of `[a-z]{1000}N` (54 KB).
    find('50,000 Metadata keys', Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`ReviewerNumber${i}`, `^value-${i}`]))),
    find(
      '2,000 keys of [a-z]{1000}N',
      metadata(2_000, () => '[a-z]{1000}N'),
    ),
    find(
      '30,000 keys under 1 MiB',
      metadata(30_000, () => 'a'),
    ),
    find(
      '64 keys of [a-z]{1000}N',
      metadata(64, () => '[a-z]{1000}N'),
    ),
    find(
      '64 keys of (?i)\\pL{1000}',
      metadata(64, () => '(?i)\\pL{1000}'),
    ),
    find(
      '9 keys of [a-z]{1000}N (scanned)',
      metadata(9, () => '[a-z]{1000}N'),
    ),
    find(
      '60 wildcards of 1,001 characters',
      metadata(60, () => `${'*?'.repeat(500)}x`),
      { MetadataMatching: 'Wildcard' },
    ),
    find(
      '9 wildcards of 1,001 characters (scanned)',
      metadata(9, () => `${'*?'.repeat(500)}x`),
      { MetadataMatching: 'Wildcard' },
    ),
    find('nested repetition', { A: '((a{30}){30}){30}' }),
  ];
}

/** Sends `requests`, `concurrency` at a time, in order; resolves with every outcome. */
export async function sendAll(baseUrl: string, requests: readonly HostileRequest[], concurrency: number): Promise<HostileOutcome[]> {
  const outcomes: HostileOutcome[] = new Array(requests.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, requests.length) }, async () => {
      while (next < requests.length) {
        const index = next++;
        outcomes[index] = await send(baseUrl, requests[index]!);
      }
    }),
  );
  return outcomes;
}

export async function closeHostileAgent(): Promise<void> {
  await hostileAgent.close();
}

/** What one run of the hostile scenario gave. */
export interface HostileRun {
  malformed: HostileOutcome[];
  pathological: HostileOutcome[];
  bombs: HostileOutcome[];
  dumps: HostileOutcome[];
  /** `GET /toto` latencies over the run, in milliseconds. */
  probe: { count: number; p50: number; p99: number; max: number; failures: string[] };
  /** The host's own figures over the run (see measured-host.ts). */
  host: HostMeasure;
  durationMs: number;
}

/**
 * Everything at once against a host: malformed requests to every route (16 at a time), the
 * pathological finds (4 at a time), `bombs` dumps of the deflate bomb and `dumps` dumps of the
 * large instance, all concurrently, while `GET /toto` is probed every 20 ms.
 */
export async function runHostileScenario(
  host: MeasuredHost,
  fixtures: HostileFixtures,
  counts: { bombs: number; dumps: number },
): Promise<HostileRun> {
  await host.reset();
  const probe = new LatencyProbe(`${host.url}/toto`);
  probe.start();
  const started = performance.now();
  const repeat = (count: number, request: HostileRequest) => Array.from({ length: count }, () => request);
  const [malformed, pathological, bombs, dumps] = await Promise.all([
    sendAll(host.url, malformedRequests(fixtures), 16),
    sendAll(host.url, pathologicalFinds(), 4),
    sendAll(host.url, repeat(counts.bombs, { name: 'deflate bomb', path: `/instances/${fixtures.bomb}/dcmjs` }), counts.bombs),
    sendAll(
      host.url,
      repeat(counts.dumps, { name: 'large instance', path: `/instances/${fixtures.large}/dcmjs?format=json` }),
      counts.dumps,
    ),
  ]);
  const durationMs = performance.now() - started;
  await probe.stop();
  const measure = await host.measure();
  return {
    malformed,
    pathological,
    bombs,
    dumps,
    probe: {
      count: probe.latenciesMs.length,
      p50: probe.percentile(50),
      p99: probe.percentile(99),
      max: probe.percentile(100),
      failures: probe.failures,
    },
    host: measure,
    durationMs,
  };
}

/**
 * Stores the scenario's instances in `orthanc`: a small CT study, a large instance of
 * `largeBytes`, and a deflate bomb inflating to `bombBytes`.
 */
export async function storeHostileFixtures(
  orthanc: { upload(file: Uint8Array): Promise<{ ID: string; ParentSeries: string; ParentStudy: string }>; directory: string },
  sizes: { largeBytes: number; bombBytes: number },
): Promise<HostileFixtures> {
  const [first] = generateStudy({
    patientId: 'RCP-HOSTILE',
    patientName: 'Hostile^Input',
    studyDate: '20240101',
    series: [{ modality: 'CT', instances: 2 }],
  }).map((instance) => instance.file);
  const small = await orthanc.upload(first!);
  const largePath = join(orthanc.directory, 'hostile-large.dcm');
  await writeLargeInstance(largePath, sizes.largeBytes);
  const large = await orthanc.upload(await readFile(largePath));
  await rm(largePath);
  const bomb = await orthanc.upload((await deflateBomb(sizes.bombBytes)).file);
  return { instance: small.ID, series: small.ParentSeries, study: small.ParentStudy, large: large.ID, bomb: bomb.ID };
}

/** The host configuration of the scenario: every recipe that needs no outside peer, hello's `/toto` as the probe. */
export function hostileHostConfig(orthancUrl: string, options: { withoutLimits?: boolean } = {}): Record<string, unknown> {
  // `withoutLimits`: for a tree from before the limits existed (the benchmark's "before").
  const dump = options.withoutLimits
    ? { MaxFileMegabytes: 256 }
    : { MaxFileMegabytes: 256, MaxInflatedMegabytes: 64, MaxMegabytesInFlight: 128 };
  return {
    Orthanc: { Url: orthancUrl },
    WorkerPool: { MaxThreads: 2 },
    LogLevel: 'warning',
    Recipes: {
      hello: { Enabled: true, LogChanges: false },
      'dicom-dump': { Enabled: true, ...dump },
      'metadata-find': { Enabled: true },
      thumbnails: { Enabled: true },
      introspection: { Enabled: true },
      'stored-instances': { Enabled: true },
      dashboard: { Enabled: true },
      scheduler: { Enabled: true },
      autorouting: { Enabled: true, DryRun: true },
      computation: { Enabled: true, SquareRoots: 1_000_000 },
    },
  };
}

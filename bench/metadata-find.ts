// Benchmark: a metadata query over 1,000 studies, through the metadata-find recipe vs the seed
// sample's way (POST /tools/find with Expand, then one GET /studies/{id}/metadata?expand per
// answer, in sequence, filtered by a regular expression), side by side in one run.
// Usage: npm run bench:metadata-find [-- --studies 1000 --rounds 5]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { waitUntilStable } from '../test/helpers/changes.js';
import { generateStudy } from '../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../test/helpers/host.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';
import { levelPath, type ResourceLevel } from '../shared/orthanc-resources.js';
import { forEachConcurrently } from '../recipes/metadata-find/metadata-reader.js';

const { values } = parseArgs({ options: { studies: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' } } });
const studyCount = Number(values.studies);
const rounds = Number(values.rounds);
const dispatcher = new Agent({ connections: 16, keepAliveTimeoutThreshold: 250 });

async function post(url: string, body: unknown): Promise<any> {
  const answer = await request(url, { method: 'POST', body: JSON.stringify(body), dispatcher });
  const text = await answer.body.text();
  if (answer.statusCode !== 200) throw new Error(`POST ${url}: HTTP ${answer.statusCode} ${text}`);
  return JSON.parse(text);
}

async function get(url: string): Promise<any> {
  const answer = await request(url, { dispatcher });
  return answer.body.json();
}

/** The seed sample's algorithm, as a client of Orthanc: its answer for `body`. */
async function sampleWay(
  orthancUrl: string,
  body: { Level: string; Query: object; Expand?: boolean; Metadata: Record<string, string>; Limit?: number },
): Promise<unknown[]> {
  // The sample passes Limit to Orthanc, before its filter, and pages come back short; a correct
  // page has to be cut from the whole filtered answer, as here.
  const { Metadata: metadata, Expand: expand, Limit: limit, ...rest } = body;
  const answers: { ID: string; Type: ResourceLevel }[] = await post(`${orthancUrl}/tools/find`, { ...rest, Expand: true });
  const filtered: unknown[] = [];
  for (const answer of answers) {
    const values: Record<string, string> = await get(`${orthancUrl}/${levelPath[answer.Type]}/${answer.ID}/metadata?expand`);
    if (Object.entries(metadata).every(([name, pattern]) => new RegExp(`^(?:${pattern})`).test(values[name] ?? ''))) {
      filtered.push(expand ? { ...answer, Metadata: values } : answer.ID);
    }
  }
  return limit ? filtered.slice(0, limit) : filtered;
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await run();
  return { ms: performance.now() - started, result };
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

const orthanc = await startTestOrthanc({ configuration: { UserMetadata: { Reviewer: 1024 } } });
const hosts: HostProcess[] = [];
try {
  const loadBefore = load();
  const system = await orthanc.json('GET', '/system');
  const fillStarted = performance.now();
  const studyIds: string[] = new Array(studyCount);
  await forEachConcurrently([...Array(studyCount).keys()], 8, async (i) => {
    const [instance] = generateStudy({
      patientId: `BENCH${i % 200}`,
      patientName: 'Bench^Mark',
      studyDate: '20240101',
      size: 4,
      series: [{ modality: 'CT', instances: 1 }],
    });
    studyIds[i] = (await orthanc.upload(instance!.file)).ParentStudy;
  });
  // One study in 20 has a Reviewer that matches the query.
  await forEachConcurrently([...studyIds.entries()], 8, async ([i, id]) => {
    const answer = await request(`${orthanc.url}/studies/${id}/metadata/Reviewer`, {
      method: 'PUT',
      body: i % 20 === 0 ? `alice-${i}` : `bob-${i}`,
      dispatcher,
    });
    await answer.body.dump();
  });
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  await waitUntilStable(orthanc); // so that IsStable does not change between the sides' expanded answers

  hosts.push(await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { 'metadata-find': { Enabled: true } } }));
  hosts.push(
    await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { 'metadata-find': { Enabled: true, MetadataReads: 'PerResource', NativeMetadataQuery: false, Concurrency: 8 } },
    }),
  );
  hosts.push(
    await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { 'metadata-find': { Enabled: true, MetadataIndex: true } } }),
  );
  const [recipe, perResource, indexed] = hosts as [HostProcess, HostProcess, HostProcess];

  console.log(
    `orthanc-recipes metadata-find benchmark: Orthanc ${system.Version} (ExtendedFind: ${system.Capabilities?.HasExtendedFind === true}), Node ${process.version}`,
  );
  console.log(
    `${studyCount} studies (1 instance each) stored in ${fillSeconds.toFixed(1)} s; median of ${rounds} rounds, sides alternating; load average before: ${loadBefore}`,
  );
  console.log(
    `${'query'.padEnd(46)} ${'sample'.padStart(9)} ${'recipe'.padStart(9)} ${'ratio'.padStart(7)} ${'indexed'.padStart(9)} ${'ratio'.padStart(7)} ${'per-resource'.padStart(13)} ${'ratio'.padStart(7)}`,
  );

  const queries: [string, Record<string, unknown>][] = [
    ['regex ^alice, IDs', { Level: 'Study', Query: {}, Metadata: { Reviewer: '^alice' } }],
    ['regex ^alice, Expand', { Level: 'Study', Query: {}, Expand: true, Metadata: { Reviewer: '^alice' } }],
    ['regex alice-\\d+0$, IDs', { Level: 'Study', Query: {}, Metadata: { Reviewer: 'alice-\\d+0$' } }],
    ['regex ^alice, Limit 5 (first page)', { Level: 'Study', Query: {}, Metadata: { Reviewer: '^alice' }, Limit: 5 }],
    ['wildcard alice*, IDs', { Level: 'Study', Query: {}, MetadataMatching: 'Wildcard', Metadata: { Reviewer: 'alice*' } }],
  ];
  for (const [label, body] of queries) {
    const sampleBody = body.MetadataMatching ? { ...body, MetadataMatching: undefined, Metadata: { Reviewer: 'alice.*$' } } : body;
    const times = { sample: [] as number[], recipe: [] as number[], indexed: [] as number[], perResource: [] as number[] };
    let expected: unknown[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const sample = await timed(() => sampleWay(orthanc.url, sampleBody as never));
      const viaRecipe = await timed(() => post(`${recipe.url}/tools/find`, body));
      const viaPerResource = await timed(() => post(`${perResource.url}/tools/find`, body));
      const viaIndex = await timed(() => post(`${indexed.url}/tools/find`, body)); // a repeated query after the first round
      expected = sample.result;
      for (const [name, answer] of [
        ['recipe', viaRecipe.result],
        ['per-resource', viaPerResource.result],
        ['indexed', viaIndex.result],
      ] as const) {
        if (JSON.stringify(answer) !== JSON.stringify(expected)) throw new Error(`${label}: the ${name} answer differs from the sample's`);
      }
      if (round > 0 || rounds === 1) {
        times.sample.push(sample.ms);
        times.recipe.push(viaRecipe.ms);
        times.perResource.push(viaPerResource.ms);
        times.indexed.push(viaIndex.ms);
      }
    }
    const [s, r, i, p] = [median(times.sample), median(times.recipe), median(times.indexed), median(times.perResource)];
    const cell = (ms: number) => `${`${ms.toFixed(0)} ms`.padStart(9)} ${`${(s / ms).toFixed(1)}×`.padStart(7)}`;
    console.log(
      `${`${label} (${expected.length} found)`.padEnd(46)} ${`${s.toFixed(0)} ms`.padStart(9)} ${cell(r)} ${cell(i)}     ${cell(p)}`,
    );
  }
  console.log(
    `(sample: the sample's algorithm as an HTTP client of Orthanc; recipe: defaults, bulk reads${system.Capabilities?.HasExtendedFind ? ' and MetadataQuery where exact' : ''}; ` +
      `indexed: MetadataIndex on, a repeated query${system.Capabilities?.HasExtendedFind ? ' (unused here: the metadata come with the find)' : ''}; per-resource: MetadataReads PerResource, Concurrency 8; ` +
      `first round is a warm-up; load average after: ${load()})`,
  );
} finally {
  for (const host of hosts) await host.stop();
  await orthanc.stop();
  await dispatcher.close();
}

// Benchmark: what acting as the caller and filtering requests cost per recipe request, p50 warm,
// side by side in one run, against an Orthanc that requires credentials:
// - a route that reads Orthanc's /system with the host's binding (ctx.orthanc), and the same
//   route with the caller's (request.orthanc): the cost of binding the caller's credentials;
// - the caller's right on an instance checked by CallerRights, kept (a hit) and asked every time;
// - a warm thumbnail (cache hit, the caller's right kept);
// - hello's /toto behind no filter, behind the authorization recipe asking a web service with the
//   answer kept (cache hit), and asking it on every request (CacheSeconds 0: a miss).
// Every variant is warmed up first, then measured in two rounds (the second in reverse order). Usage: npm run bench:caller [-- --requests 500]
import { rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { CallerRights } from '../shared/caller-rights.js';
import { defineRecipe } from '../shared/recipe.js';
import { generateStudy } from '../test/helpers/dicom.js';
import { startHostInProcess } from '../test/helpers/host.js';
import { basicAuth } from '../test/helpers/http.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '500' } } });
const REQUESTS = Math.max(2, Number(values.requests) & ~1);
const headers = { authorization: basicAuth('admin', 'admin-pw') };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** GETs `url` `count` times, one at a time; every answer must be a 200. Latencies sorted, in ms. */
async function load(url: string, count: number): Promise<number[]> {
  const dispatcher = new Agent({ connections: 1, keepAliveTimeoutThreshold: 250 });
  const latencies: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const t0 = performance.now();
    const answer = await request(url, { dispatcher, headers });
    const body = await answer.body.arrayBuffer();
    if (answer.statusCode !== 200) throw new Error(`${url}: HTTP ${answer.statusCode} ${Buffer.from(body).toString().slice(0, 200)}`);
    latencies.push(performance.now() - t0);
  }
  await dispatcher.close();
  return latencies.sort((a, b) => a - b);
}

const uncachedRights = new CallerRights({ ttlSeconds: 0 });
const cachedRights = new CallerRights();
const benchRecipe = defineRecipe({
  meta: { id: 'bench-caller', title: 'Bench', description: 'Routes for bench/caller.ts.', routes: [], events: [], destructive: false },
  schema: { type: 'object', additionalProperties: false },
  setup({ orthanc }) {
    const answer = (body: Buffer, output: { answerBuffer(data: Uint8Array, type: string): void }) =>
      output.answerBuffer(body, 'application/json');
    orthanc.registerRestCallback('/bench/host/system', async (output) => answer(await orthanc.restApiGet('/system'), output));
    orthanc.registerRestCallback('/bench/caller/system', async (output, _uri, req) =>
      answer(await req.orthanc.restApiGet('/system'), output),
    );
    orthanc.registerRestCallback('/bench/rights/kept/([^/]+)', async (output, _uri, req) => {
      await cachedRights.ensure(req, `/instances/${req.groups[0]}`);
      output.answerBuffer('{}', 'application/json');
    });
    orthanc.registerRestCallback('/bench/rights/asked/([^/]+)', async (output, _uri, req) => {
      await uncachedRights.ensure(req, `/instances/${req.groups[0]}`);
      output.answerBuffer('{}', 'application/json');
    });
  },
});

const orthanc = await startTestOrthanc({
  configuration: { AuthenticationEnabled: true, RegisteredUsers: { admin: 'admin-pw' } },
  credentials: { username: 'admin', password: 'admin-pw' },
});
const [instance] = generateStudy({
  patientId: 'BENCH-CALLER',
  patientName: 'Bench^Caller',
  studyDate: '20240101',
  series: [{ modality: 'CT', instances: 1 }],
  size: 256,
});
const { ID: instanceId } = await orthanc.upload(instance!.file);

let serviceQuestions = 0;
const service = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    serviceQuestions += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"granted": true}');
  });
});
await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
const serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}/authorize`;

const base = { Orthanc: { Url: orthanc.url, Username: 'admin', Password: 'admin-pw' }, LogLevel: 'warning' };
const withFilter = (cacheSeconds: number) => ({
  hello: { Enabled: true, LogChanges: false },
  authorization: { Enabled: true, WebService: { Url: serviceUrl, TimeoutMilliseconds: 2000 }, CacheSeconds: cacheSeconds },
});
const hosts = [
  await startHostInProcess(
    { ...base, Recipes: { hello: { Enabled: true, LogChanges: false }, thumbnails: { Enabled: true }, 'bench-caller': { Enabled: true } } },
    [benchRecipe],
  ),
  await startHostInProcess({ ...base, Recipes: withFilter(60) }),
  await startHostInProcess({ ...base, Recipes: withFilter(0) }),
];
const [plain, filterKept, filterAsked] = hosts.map((h) => h.url) as [string, string, string];

const variants: [string, string][] = [
  ["GET /system with the host's binding", `${plain}/bench/host/system`],
  ["GET /system with the caller's binding", `${plain}/bench/caller/system`],
  ["caller's right on an instance, kept", `${plain}/bench/rights/kept/${instanceId}`],
  ["caller's right on an instance, asked", `${plain}/bench/rights/asked/${instanceId}`],
  ['thumbnail, warm (right kept)', `${plain}/instances/${instanceId}/thumbnail`],
  ['/toto, no filter', `${plain}/toto`],
  ['/toto, web service answer kept', `${filterKept}/toto`],
  ['/toto, web service asked each time', `${filterAsked}/toto`],
];
const rows: string[] = [];
try {
  for (const [, url] of variants) await load(url, Math.min(REQUESTS, 300)); // warm up
  const asked = serviceQuestions;
  // Two rounds, the second in reverse order, so that no variant always runs first (or last).
  const measured = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (const order of [variants, [...variants].reverse()]) {
    for (const [name, url] of order) measured.get(name)!.push(...(await load(url, REQUESTS / 2)));
  }
  const p50: Record<string, number> = {};
  for (const [name] of variants) {
    const latencies = measured.get(name)!.sort((a, b) => a - b);
    p50[name] = percentile(latencies, 50);
    rows.push(`${name.padEnd(42)} p50 ${p50[name].toFixed(3).padStart(7)} ms   p90 ${percentile(latencies, 90).toFixed(3).padStart(7)} ms`);
  }
  const delta = (a: string, b: string) => `${((p50[a]! - p50[b]!) * 1000).toFixed(0)} µs`;
  console.log(
    `${REQUESTS} requests per variant, one at a time, after a warm-up; Orthanc ${(await orthanc.json('GET', '/system')).Version}, Node ${process.version}\n`,
  );
  console.log(rows.join('\n'));
  console.log('');
  console.log(
    `added by acting as the caller (p50):        ${delta("GET /system with the caller's binding", "GET /system with the host's binding")}`,
  );
  console.log(
    `added by a right kept / asked (p50):        ${delta("caller's right on an instance, kept", '/toto, no filter')} / ${delta("caller's right on an instance, asked", '/toto, no filter')}`,
  );
  console.log(`added by the filter, answer kept (p50):     ${delta('/toto, web service answer kept', '/toto, no filter')}`);
  console.log(`added by the filter, service asked (p50):   ${delta('/toto, web service asked each time', '/toto, no filter')}`);
  console.log(
    `questions to the web service while measured: ${serviceQuestions - asked} (expected ${REQUESTS}: one per request of the uncached host)`,
  );
} finally {
  for (const { host, directory } of hosts) {
    await host.close();
    await rm(directory, { recursive: true, force: true });
  }
  service.close();
  await orthanc.stop();
}

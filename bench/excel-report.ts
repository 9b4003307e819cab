// Benchmark: memory of the excel-report recipe's streamed report (exceljs's streaming
// WorkbookWriter, each row committed as it is read) next to the same report built in memory
// (exceljs's Workbook, then writeBuffer), at 1,000 and 10,000 studies, in one run. Each way runs
// in a fresh process of its own (this file, forked) reading the same rows from the same Orthanc,
// and reports its peak RSS (VmHWM) and peak V8 heap (sampled every 5 ms); the host serving
// GET /report.xlsx is measured too (its RSS, from /proc). Studies are tiny (one 8x8 instance),
// uploaded 8 at a time, as in bench/paging.ts.
// Usage: npm run bench:excel-report [-- --sizes 1000,10000]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ExcelJS from 'exceljs';
import { Agent, request } from 'undici';
import { columns, listStudies, readStudy, writeReport } from '../recipes/excel-report/report.js';
import { createCallerBinding, OrthancConnection } from '../shared/binding/index.js';
import { startHostProcess } from '../test/helpers/host.js';
import { memoryOf, resetPeak } from '../test/helpers/memory.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';
import { fillStudies } from './fill-studies.js';

const MB = 2 ** 20;
const PARALLEL = 4; // the recipe's default ParallelReads

interface WorkerResult {
  rows: number;
  bytes: number;
  seconds: number;
  rssBefore: number;
  peakRss: number;
  peakHeap: number;
}

/** In a forked process: one way of writing the report, measured from inside. */
async function worker(way: 'stream' | 'memory', orthancUrl: string): Promise<WorkerResult> {
  const binding = createCallerBinding(new OrthancConnection({ url: orthancUrl }));
  const ids = await listStudies(binding, undefined);
  const rssBefore = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 5);
  const started = performance.now();
  let rows = 0;
  let bytes = 0;
  if (way === 'stream') {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done();
      },
    });
    rows = await writeReport(binding, ids, sink, { parallel: PARALLEL, signal: new AbortController().signal });
  } else {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Studies', { views: [{ state: 'frozen', ySplit: 1 }] });
    sheet.columns = columns.map((column) => ({ ...column }));
    sheet.getRow(1).font = { bold: true };
    for (let start = 0; start < ids.length; start += PARALLEL) {
      const batch = await Promise.all(ids.slice(start, start + PARALLEL).map((id) => readStudy(binding, id)));
      for (const row of batch) {
        if (!row) continue;
        sheet.addRow(row);
        rows += 1;
      }
    }
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    const buffer = await workbook.xlsx.writeBuffer();
    bytes = buffer.byteLength;
  }
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const status = readFileSync('/proc/self/status', 'utf8');
  const peakRss = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024;
  return { rows, bytes, seconds: (performance.now() - started) / 1000, rssBefore, peakRss, peakHeap };
}

async function runWorker(way: 'stream' | 'memory', orthancUrl: string): Promise<WorkerResult> {
  const child = fork(fileURLToPath(import.meta.url), ['--worker', way, '--orthanc', orthancUrl], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [WorkerResult | { error: string }];
  await once(child, 'exit');
  if ('error' in message) throw new Error(`${way}: ${message.error}`);
  return message;
}

const dispatcher = new Agent({ connections: 16, keepAliveTimeout: 500, keepAliveTimeoutThreshold: 250 });

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,10000' }, worker: { type: 'string' }, orthanc: { type: 'string' } },
});

if (values.worker) {
  try {
    process.send!(await worker(values.worker as 'stream' | 'memory', values.orthanc!));
  } catch (error) {
    process.send!({ error: (error as Error).stack ?? String(error) });
  }
  process.exit(0);
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
const mb = (bytes: number) => (bytes / MB).toFixed(0);
const orthanc = await startTestOrthanc();
const host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { 'excel-report': { Enabled: true } } });
try {
  console.log(
    `Orthanc ${(await orthanc.json('GET', '/system')).Version}, Node ${process.version}, ${PARALLEL} studies read at once; load before: ${load()}`,
  );
  const rows: string[][] = [['studies', 'way', 'rows', 'xlsx (KB)', 'time (s)', 'RSS before (MB)', 'peak RSS (MB)', 'peak heap (MB)']];
  let stored = 0;
  for (const size of values.sizes.split(',').map(Number)) {
    const fillStarted = performance.now();
    await fillStudies(orthanc.url, stored, size, { prefix: 'BX', dispatcher });
    stored = size;
    console.log(`${size} studies stored (${((performance.now() - fillStarted) / 1000).toFixed(0)} s)`);
    for (const way of ['stream', 'memory'] as const) {
      const result = await runWorker(way, orthanc.url);
      const label = way === 'stream' ? 'streamed (WorkbookWriter), own process' : 'in memory (Workbook + writeBuffer), own process';
      rows.push([
        String(size),
        label,
        String(result.rows),
        (result.bytes / 1024).toFixed(0),
        result.seconds.toFixed(1),
        mb(result.rssBefore),
        mb(result.peakRss),
        mb(result.peakHeap),
      ]);
    }
    const pid = host.child.pid!;
    resetPeak(pid);
    const before = memoryOf(pid).rss;
    const started = performance.now();
    const answer = await request(`${host.url}/report.xlsx`, { dispatcher });
    let bytes = 0;
    for await (const chunk of answer.body) bytes += (chunk as Buffer).length;
    if (answer.statusCode !== 200) throw new Error(`GET /report.xlsx: HTTP ${answer.statusCode}`);
    rows.push([
      String(size),
      'the host, GET /report.xlsx (streamed)',
      '',
      (bytes / 1024).toFixed(0),
      ((performance.now() - started) / 1000).toFixed(1),
      mb(before),
      mb(memoryOf(pid).peak),
      '',
    ]);
  }
  const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  console.log(`load after: ${load()}`);
} finally {
  await host.stop();
  await orthanc.stop();
  await dispatcher.close();
}

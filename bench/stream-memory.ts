// Benchmark: the host's memory while it streams a large study's ZIP (archive-stream) and while it
// composes that study's series into a mosaic, both against the study's size, in one run. The
// study is one CT-like series of 1024x1024 16-bit slices (2 MiB each), 1 GiB by default.
// Usage: npm run bench:stream-memory [-- --megabytes 1024]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import dcmjs from 'dcmjs';
import { Agent, request } from 'undici';
import { toPart10 } from '../test/helpers/dicom.js';
import { startHostProcess } from '../test/helpers/host.js';
import { memoryOf, resetPeak } from '../test/helpers/memory.js';
import { startTestOrthanc } from '../test/helpers/orthanc.js';

const { DicomMetaDictionary } = dcmjs.data;
const { values } = parseArgs({ options: { megabytes: { type: 'string', default: '1024' } } });
const MB = 2 ** 20;
const SIDE = 1024;
const slices = Math.max(1, Math.round((Number(values.megabytes) * MB) / (SIDE * SIDE * 2)));
const dispatcher = new Agent({ connections: 8, keepAliveTimeout: 500, keepAliveTimeoutThreshold: 250 });
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

const pixels = new Uint16Array(SIDE * SIDE);
// Noisy enough that the ZIP stays close to the study size (deflate gains little).
for (let i = 0; i < pixels.length; i += 1) pixels[i] = (Math.imul(i + 1, 2654435761) >>> 20) & 0x0fff;
const study = DicomMetaDictionary.uid();
const series = DicomMetaDictionary.uid();
const slice = (n: number) =>
  toPart10({
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: DicomMetaDictionary.uid(),
    StudyInstanceUID: study,
    SeriesInstanceUID: series,
    PatientID: 'BENCH-LARGE',
    PatientName: 'Bench^Large',
    StudyDate: '20240101',
    Modality: 'CT',
    InstanceNumber: String(n + 1),
    ImagePositionPatient: ['0', '0', String(n)],
    ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'],
    Rows: SIDE,
    Columns: SIDE,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    PixelData: pixels.buffer,
    _vrMap: { PixelData: 'OW' },
  });

const orthanc = await startTestOrthanc();
const host = await startHostProcess({
  Orthanc: { Url: orthanc.url },
  Recipes: { 'archive-stream': { Enabled: true }, mosaic: { Enabled: true } },
});
try {
  console.log(
    `Orthanc ${(await orthanc.json('GET', '/system')).Version}; ${slices} slices of ${SIDE}x${SIDE}x16 bits; load before: ${load()}`,
  );
  const uploadStarted = performance.now();
  let next = 0;
  let studyId = '';
  let seriesId = '';
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < slices) {
        const file = slice(next++);
        let stored: { ParentStudy: string; ParentSeries: string } | undefined;
        // Storing an instance twice is harmless: retried when Orthanc closed the connection under us.
        for (let attempt = 1; !stored; attempt += 1) {
          try {
            const answer = await request(`${orthanc.url}/instances`, { method: 'POST', body: file, dispatcher });
            stored = (await answer.body.json()) as { ParentStudy: string; ParentSeries: string };
          } catch (error) {
            if (attempt >= 3 || !['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET'].includes((error as { code?: string }).code ?? '')) throw error;
          }
        }
        studyId = stored.ParentStudy;
        seriesId = stored.ParentSeries;
      }
    }),
  );
  const statistics = await orthanc.json('GET', `/studies/${studyId}/statistics`);
  console.log(
    `study stored: ${(Number(statistics.DiskSize) / MB).toFixed(0)} MB in ${((performance.now() - uploadStarted) / 1000).toFixed(0)} s`,
  );

  const pid = host.child.pid!;
  const rows: string[][] = [['phase', 'bytes answered', 'time (s)', 'host RSS before (MB)', 'host peak (MB)', 'peak - before (MB)']];
  const measure = async (phase: string, run: () => Promise<number>) => {
    resetPeak(pid);
    const before = memoryOf(pid).rss;
    const started = performance.now();
    const bytes = await run();
    const seconds = (performance.now() - started) / 1000;
    const peak = memoryOf(pid).peak;
    rows.push([
      phase,
      String(bytes),
      seconds.toFixed(1),
      (before / MB).toFixed(0),
      (peak / MB).toFixed(0),
      ((peak - before) / MB).toFixed(1),
    ]);
  };
  await measure('archive-stream (client at full speed)', async () => {
    const answer = await request(`${host.url}/recipes/archive-stream/studies/${studyId}`, { dispatcher });
    let bytes = 0;
    for await (const chunk of answer.body) bytes += chunk.length;
    return bytes;
  });
  for (const size of [64, 128]) {
    await measure(`mosaic, ${Math.min(slices, 256)} tiles of ${size} px (PNG)`, async () => {
      const answer = await request(`${host.url}/series/${seriesId}/mosaic?size=${size}`, { dispatcher });
      const body = Buffer.from(await answer.body.arrayBuffer());
      if (answer.statusCode !== 200) throw new Error(`mosaic: HTTP ${answer.statusCode} ${body.toString().slice(0, 200)}`);
      return body.length;
    });
  }
  const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  console.log(`load after: ${load()}`);
} finally {
  await host.stop();
  await orthanc.stop();
  await dispatcher.close();
}

import assert from 'node:assert/strict';
import ExcelJS from 'exceljs';
import { after, before, describe, it } from 'node:test';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { dicomDate } from '../report.js';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

async function readRows(body: Buffer): Promise<{ header: unknown[]; rows: Record<string, unknown>[] }> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(body as unknown as ArrayBuffer);
  const sheet = workbook.getWorksheet('Studies')!;
  const header = (sheet.getRow(1).values as unknown[]).slice(1);
  const rows: Record<string, unknown>[] = [];
  sheet.eachRow((row, number) => {
    if (number === 1) return;
    const values = (row.values as unknown[]).slice(1);
    rows.push(Object.fromEntries(header.map((name, i) => [String(name), values[i]])));
  });
  return { header, rows };
}

describe('recipe excel-report, against a real Orthanc', { timeout: 90_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  const studies: Record<string, string> = {};

  before(async () => {
    orthanc = await startTestOrthanc();
    const specs = [
      {
        patientId: 'XL-1',
        patientName: 'Excel^One',
        studyDate: '20230115',
        series: [
          { modality: 'CT' as const, instances: 3 },
          { modality: 'MR' as const, instances: 2 },
        ],
      },
      { patientId: 'XL-2', patientName: 'Excel^Two', studyDate: '20240601', series: [{ modality: 'US' as const, instances: 1 }] },
      { patientId: 'XL-3', patientName: 'Excel^Three', studyDate: '20240720', series: [{ modality: 'CT' as const, instances: 4 }] },
    ];
    for (const spec of specs) {
      for (const instance of generateStudy(spec)) studies[spec.patientId] = (await orthanc.upload(instance.file)).ParentStudy;
    }
    host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { 'excel-report': { Enabled: true, ParallelReads: 2 } } });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it('answers an .xlsx workbook, one row per study, that exceljs reads back', async () => {
    const answer = await rawRequest(`${host.url}/report.xlsx`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], XLSX);
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.match(String(answer.headers['content-disposition']), /attachment; filename="report\.xlsx"/);
    const { header, rows } = await readRows(answer.body);
    assert.deepEqual(header, [
      'Patient ID',
      'Patient name',
      'Birth date',
      'Study date',
      'Study description',
      'Accession number',
      'Modalities',
      'Series',
      'Instances',
      'Size on disk (bytes)',
      'Orthanc ID',
    ]);
    assert.equal(rows.length, 3);
    const one = rows.find((row) => row['Patient ID'] === 'XL-1')!;
    assert.equal(one['Patient name'], 'Excel^One');
    assert.deepEqual(one['Study date'], new Date(Date.UTC(2023, 0, 15)));
    assert.equal(one.Modalities, 'CT\\MR');
    assert.equal(one.Series, 2);
    assert.equal(one.Instances, 5);
    const statistics = await orthanc.json('GET', `/studies/${studies['XL-1']}/statistics`);
    assert.equal(one['Size on disk (bytes)'], Number(statistics.DiskSize));
    assert.equal(one['Orthanc ID'], studies['XL-1']);
  });

  it('?since=YYYYMMDD keeps the studies of that date or later', async () => {
    const answer = await rawRequest(`${host.url}/report.xlsx?since=20240601`);
    assert.equal(answer.status, 200);
    const { rows } = await readRows(answer.body);
    assert.deepEqual(rows.map((row) => row['Patient ID']).sort(), ['XL-2', 'XL-3']);
    const none = await readRows((await rawRequest(`${host.url}/report.xlsx?since=20990101`)).body);
    assert.equal(none.rows.length, 0);
  });

  it('400 with a JSON body for a bad since or an unknown parameter; 405 for another method', async () => {
    for (const query of ['?since=2024-06-01', '?since=20241301', '?since=20240230', '?since=abc', '?since=', '?from=20240101']) {
      const answer = await rawRequest(`${host.url}/report.xlsx${query}`);
      assert.equal(answer.status, 400, query);
      assert.equal(JSON.parse(answer.body.toString()).HttpStatus, 400);
    }
    assert.equal((await rawRequest(`${host.url}/report.xlsx`, { method: 'POST', body: 'x' })).status, 405);
  });

  it('reads DICOM dates strictly', () => {
    assert.deepEqual(dicomDate('20240229'), new Date(Date.UTC(2024, 1, 29)));
    for (const bad of ['20230229', '2024011', '', undefined, '2024-01-01']) assert.equal(dicomDate(bad), undefined);
  });
});

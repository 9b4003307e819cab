import assert from 'node:assert/strict';
import sharp from 'sharp';
import { after, before, describe, it } from 'node:test';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { textReport } from '../../../test/helpers/images.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { grid, spread } from '../params.js';

/** Mean absolute difference of two same-sized greyscale rasters. */
async function difference(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((image) => sharp(image).greyscale().raw().toBuffer()));
  assert.equal(x!.length, y!.length);
  let sum = 0;
  for (let i = 0; i < x!.length; i += 1) sum += Math.abs(x![i]! - y![i]!);
  return sum / x!.length;
}

describe('recipe mosaic, against a real Orthanc', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let seriesId: string;
  let studyUid: string;
  let ordered: [string, number, number][];

  before(async () => {
    orthanc = await startTestOrthanc();
    const instances = generateStudy({
      patientId: 'MOS-1',
      patientName: 'Mosaic^Test',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 9 }],
    });
    // Uploaded in reverse: the mosaic must follow Orthanc's slice order, not the arrival order.
    for (const instance of [...instances].reverse()) seriesId = (await orthanc.upload(instance.file)).ParentSeries;
    studyUid = instances[0]!.studyInstanceUid;
    ordered = (await orthanc.json('GET', `/series/${seriesId}/ordered-slices`)).SlicesShort;
    host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { mosaic: { Enabled: true, MaxPixels: 65536 } } });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  const mosaic = (query: string, headers: Record<string, string> = {}) =>
    rawRequest(`${host.url}/series/${seriesId}/mosaic${query}`, { headers });

  it("composes the ordered slices into one PNG, tile i being Orthanc's rendering of slice i", async () => {
    const answer = await mosaic('?size=32');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'image/png');
    assert.equal(answer.headers['x-mosaic-tiles'], '9/9');
    const meta = await sharp(answer.body).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 96, 96]);
    for (const index of [0, 4, 8]) {
      const [instanceId] = ordered[index]!;
      const direct = await rawRequest(`${orthanc.url}/instances/${instanceId}/frames/0/rendered?width=32&height=32`, {
        headers: { accept: 'image/png' },
      });
      const expected = await sharp(direct.body)
        .resize(32, 32, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
        .png()
        .toBuffer();
      const tile = await sharp(answer.body)
        .extract({ left: (index % 3) * 32, top: Math.floor(index / 3) * 32, width: 32, height: 32 })
        .png()
        .toBuffer();
      const other = await sharp(answer.body)
        .extract({ left: ((8 - index) % 3) * 32, top: Math.floor((8 - index) / 3) * 32, width: 32, height: 32 })
        .png()
        .toBuffer();
      const same = await difference(tile, expected);
      assert.ok(same < 1, `tile ${index} differs from its slice by ${same}`);
      if (index !== 4) {
        const apart = await difference(other, expected);
        assert.ok(apart > same + 1, `tile ${8 - index} is another slice than ${index} (${apart} vs ${same})`);
      }
    }
  });

  it('takes columns, and JPEG; leaves the cells after the last slice black', async () => {
    const answer = await mosaic('?size=16&columns=2&format=jpeg&quality=90');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'image/jpeg');
    const meta = await sharp(answer.body).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 32, 80]);
    const last = await sharp(answer.body).extract({ left: 16, top: 64, width: 16, height: 16 }).greyscale().raw().toBuffer();
    assert.ok(Math.max(...last) < 20, 'the tenth cell is black');
  });

  it('has an ETag: 304 for If-None-Match, another ETag for other parameters or once the series changes', async () => {
    const first = await mosaic('?size=32');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[\w-]{32}"$/);
    assert.equal(first.headers['cache-control'], 'private, no-cache');
    assert.equal((await mosaic('?size=32')).headers.etag, etag);
    const revalidated = await mosaic('?size=32', { 'if-none-match': `W/${etag}` });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.body.length, 0);
    assert.notEqual((await mosaic('?size=16')).headers.etag, etag);
    assert.notEqual((await mosaic('?size=32&format=jpeg')).headers.etag, etag);
    // A tenth slice (same series and study UIDs) changes the mosaic, hence its ETag.
    const [extra] = generateStudy({
      patientId: 'MOS-1',
      patientName: 'Mosaic^Test',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 1 }],
    });
    const { DicomMessage, DicomMetaDictionary } = (await import('dcmjs')).default.data;
    const dict = DicomMessage.readFile(
      extra!.file.buffer.slice(extra!.file.byteOffset, extra!.file.byteOffset + extra!.file.byteLength) as ArrayBuffer,
    );
    const dataset = DicomMetaDictionary.naturalizeDataset(dict.dict);
    const series = await orthanc.json('GET', `/series/${seriesId}`);
    Object.assign(dataset, {
      StudyInstanceUID: studyUid,
      SeriesInstanceUID: series.MainDicomTags.SeriesInstanceUID,
      ImagePositionPatient: ['0', '0', '-10'],
      InstanceNumber: '10',
    });
    dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
    const stored = await orthanc.upload(Buffer.from(dict.write()));
    assert.equal(stored.ParentSeries, seriesId);
    const changed = await mosaic('?size=32', { 'if-none-match': etag });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.etag, etag);
    assert.equal(changed.headers['x-mosaic-tiles'], '10/10');
  });

  it('400 for bad parameters or a mosaic over MaxPixels; 404 unknown series; 405; 422 for a series of no image', async () => {
    for (const query of [
      '?size=0',
      '?size=7',
      '?size=9999',
      '?size=abc',
      '?columns=0',
      '?format=gif',
      '?quality=101',
      '?colums=3',
      '?size=128',
    ]) {
      const answer = await mosaic(query);
      assert.equal(answer.status, 400, query);
      assert.equal(JSON.parse(answer.body.toString()).HttpStatus, 400);
    }
    assert.equal((await rawRequest(`${host.url}/series/no-such-series/mosaic`)).status, 404);
    assert.equal((await rawRequest(`${host.url}/series/${seriesId}/mosaic`, { method: 'POST', body: 'x' })).status, 405);
    const report = await orthanc.upload(textReport());
    const noImage = await rawRequest(`${host.url}/series/${report.ParentSeries}/mosaic`);
    assert.equal(noImage.status, 422);
    assert.equal(JSON.parse(noImage.body.toString()).HttpStatus, 422);
  });

  it('spreads the tiles evenly over a long series, first and last kept; grids as square as it can', () => {
    assert.deepEqual(spread([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4), [0, 3, 6, 9]);
    assert.deepEqual(spread([0, 1, 2], 5), [0, 1, 2]);
    assert.deepEqual(grid(9, undefined), { columns: 3, rows: 3 });
    assert.deepEqual(grid(10, undefined), { columns: 4, rows: 3 });
    assert.deepEqual(grid(3, 8), { columns: 3, rows: 1 });
  });
});

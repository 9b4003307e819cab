import assert from 'node:assert/strict';
import sharp from 'sharp';
import { after, before, describe, it } from 'node:test';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest } from '../../../test/helpers/http.js';
import { textReport } from '../../../test/helpers/images.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';

/** A 40x30 grey gradient, so that pixels can be checked after the round trip. */
function gradient(width = 40, height = 30): Buffer {
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) pixels[y * width + x] = (x * 5 + y) % 256;
  return pixels;
}
const raw = { raw: { width: 40, height: 30, channels: 1 as const } };

describe('recipe create-dicom, against a real Orthanc', { timeout: 90_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  const post = (path: string, body: Buffer | string, type: string) =>
    rawRequest(`${host.url}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
  const json = (answer: { body: Buffer }) => JSON.parse(answer.body.toString());
  const rendered = async (id: string) =>
    sharp((await rawRequest(`${orthanc.url}/instances/${id}/frames/0/rendered`, { headers: { accept: 'image/png' } })).body)
      .greyscale()
      .raw()
      .toBuffer();

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { 'create-dicom': { Enabled: true, MaxImageBytes: 200_000, MaxPixels: 100_000 } },
    });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  it('stores a PNG with the tags of the query and answers the new instance, pixels intact', async () => {
    const png = await sharp(gradient(), raw).png().toBuffer();
    const answer = await post('/recipes/create-dicom?PatientID=CD-1&PatientName=Create%5EPng&Modality=OT', png, 'image/png');
    assert.equal(answer.status, 200);
    const instance = json(answer);
    assert.equal(instance.Type, 'Instance');
    const tags = await orthanc.json('GET', `/instances/${instance.ID}/simplified-tags`);
    assert.deepEqual([tags.PatientID, tags.PatientName, tags.Modality, tags.Rows, tags.Columns], ['CD-1', 'Create^Png', 'OT', '30', '40']);
    assert.deepEqual(await rendered(instance.ID), gradient());
  });

  it('stores a JPEG given as JSON (decoded once, no second loss) and an RGBA PNG as RGB', async () => {
    const jpeg = await sharp(gradient(), raw).jpeg({ quality: 90 }).toBuffer();
    const answer = await post(
      '/recipes/create-dicom',
      JSON.stringify({
        Image: `data:image/jpeg;base64,${jpeg.toString('base64')}`,
        Tags: { PatientID: 'CD-2', StudyDescription: 'From JSON' },
      }),
      'application/json',
    );
    assert.equal(answer.status, 200);
    const id = json(answer).ID;
    const decoded = await sharp(jpeg).greyscale().raw().toBuffer();
    const stored = await rendered(id);
    assert.equal(stored.length, decoded.length);
    const worst = Math.max(...stored.map((value, i) => Math.abs(value - decoded[i]!)));
    assert.ok(worst <= 2, `the stored pixels are the JPEG's, decoded (worst difference ${worst})`);
    const rgba = await sharp({ create: { width: 20, height: 10, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 0.5 } } })
      .png()
      .toBuffer();
    const colour = json(await post('/recipes/create-dicom?PatientID=CD-3', rgba, 'image/png'));
    const tags = await orthanc.json('GET', `/instances/${colour.ID}/simplified-tags`);
    assert.deepEqual([tags.PhotometricInterpretation, tags.SamplesPerPixel], ['RGB', '3']);
  });

  it('415 for what sharp cannot decode, or is not PNG or JPEG; 413 over the bounds', async () => {
    const png = await sharp(gradient(), raw).png().toBuffer();
    const webp = await sharp(gradient(), raw).webp().toBuffer();
    for (const [what, body] of [
      ['bytes', Buffer.from('not an image at all')],
      ['a truncated PNG', png.subarray(0, 60)],
      ['WebP', webp],
      ['a DICOM file', textReport()],
    ] as const) {
      const answer = await post('/recipes/create-dicom', body, 'image/png');
      assert.equal(answer.status, 415, what);
      assert.equal(json(answer).HttpStatus, 415);
    }
    const large = await sharp({ create: { width: 400, height: 400, channels: 3, background: 'white' } })
      .png()
      .toBuffer();
    assert.equal((await post('/recipes/create-dicom', large, 'image/png')).status, 413, 'over MaxPixels');
    const noisy = await sharp(Buffer.from(Array.from({ length: 300 * 300 }, (_v, i) => (i * 7919) % 251)), {
      raw: { width: 300, height: 300, channels: 1 },
    })
      .png({ compressionLevel: 0 })
      .toBuffer();
    assert.ok(noisy.length > 200_000);
    assert.equal((await post('/recipes/create-dicom', noisy, 'image/png')).status, 413, 'over MaxImageBytes');
  });

  it('400 for a bad JSON request, an unknown tag (Orthanc says so), an empty body; 405 for GET', async () => {
    const png = (await sharp(gradient(), raw).png().toBuffer()).toString('base64');
    for (const body of [
      '{',
      '[]',
      JSON.stringify({ Image: 3 }),
      JSON.stringify({ Image: png, Tags: [] }),
      JSON.stringify({ Image: '@@@' }),
      JSON.stringify({ Image: png, Extra: 1 }),
      JSON.stringify({ Image: png, Parent: 5 }),
    ]) {
      const answer = await post('/recipes/create-dicom', body, 'application/json');
      assert.equal(answer.status, 400, body.slice(0, 40));
      assert.equal(json(answer).HttpStatus, 400);
    }
    assert.equal((await post('/recipes/create-dicom?NoSuchTag=1', Buffer.from(png, 'base64'), 'image/png')).status, 400);
    assert.equal((await post('/recipes/create-dicom', '', 'image/png')).status, 400);
    assert.equal((await rawRequest(`${host.url}/recipes/create-dicom`)).status, 405);
  });

  it('annotate: a cross on the frame, stored as a new instance of the same series', async () => {
    const png = await sharp(Buffer.alloc(40 * 30, 20), raw)
      .png()
      .toBuffer();
    const source = json(await post('/recipes/create-dicom?PatientID=CD-4&Modality=OT', png, 'image/png'));
    const answer = await rawRequest(`${host.url}/instances/${source.ID}/annotate`, { method: 'POST' });
    assert.equal(answer.status, 200);
    const annotated = json(answer);
    assert.notEqual(annotated.ID, source.ID);
    assert.equal(annotated.ParentSeries, source.ParentSeries);
    const pixels = await rendered(annotated.ID);
    assert.equal(pixels[0], 128, 'the top-left corner is on the cross');
    assert.equal(pixels[15 * 40 + 20], 128, 'so is the centre');
    assert.equal(pixels[2 * 40 + 30], 20, 'off the diagonals, the frame is as it was');
    const series = await orthanc.json('GET', `/series/${source.ParentSeries}`);
    assert.equal(series.Instances.length, 2);
  });

  it('annotate: 404 unknown instance, 422 for an instance with no image, 400 bad frame, 405 for GET', async () => {
    assert.equal((await rawRequest(`${host.url}/instances/no-such/annotate`, { method: 'POST' })).status, 404);
    const report = await orthanc.upload(textReport());
    const noImage = await rawRequest(`${host.url}/instances/${report.ID}/annotate`, { method: 'POST' });
    assert.equal(noImage.status, 422);
    assert.equal((await rawRequest(`${host.url}/instances/${report.ID}/annotate?frame=-1`, { method: 'POST' })).status, 400);
    assert.equal((await rawRequest(`${host.url}/instances/${report.ID}/annotate`)).status, 405);
  });
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startHostInProcess, startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { rawRequest, type RawResponse } from '../../../test/helpers/http.js';
import * as images from '../../../test/helpers/images.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { createThumbnailsRecipe } from '../index.js';
import { fitInside } from '../thumbnailer.js';

interface Stored {
  ID: string;
  ParentSeries: string;
  ParentStudy: string;
}

const header = (answer: RawResponse, name: string) => String(answer.headers[name] ?? '');
const json = (answer: RawResponse) => JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;

describe('recipe thumbnails, against a real Orthanc', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  const get = (path: string, headers: Record<string, string> = {}) => rawRequest(`${host.url}${path}`, { headers });
  const store = async (file: Buffer): Promise<Stored> => {
    const stored = await orthanc.upload(file);
    assert.equal(stored.Status, 'Success');
    return stored;
  };

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { thumbnails: { Enabled: true } } });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
  });

  /** GETs a thumbnail, checks the status, Content-Type, format and dimensions, and returns the answer. */
  async function thumbnail(
    path: string,
    expected: { width: number; height: number; format: 'jpeg' | 'png' | 'webp' },
  ): Promise<RawResponse> {
    const answer = await get(path);
    assert.equal(answer.status, 200, `${path}: ${answer.body.toString().slice(0, 300)}`);
    assert.equal(header(answer, 'content-type'), `image/${expected.format}`, path);
    const metadata = await sharp(answer.body).metadata();
    assert.deepEqual({ width: metadata.width, height: metadata.height, format: metadata.format }, expected, path);
    return answer;
  }

  it('renders every kind of image Orthanc decodes, at each size, in each format', async () => {
    const kinds: Record<string, { file: Buffer; width: number; height: number; channels: number }> = {
      'CT 16-bit signed': { file: images.ct16({ width: 300, height: 200, signed: true }), width: 300, height: 200, channels: 1 },
      'CT 16-bit unsigned': { file: images.ct16({ width: 200, height: 300, signed: false }), width: 200, height: 300, channels: 1 },
      MONOCHROME1: { file: images.ct16({ width: 96, height: 96, signed: true, monochrome1: true }), width: 96, height: 96, channels: 1 },
      'RGB 8-bit': { file: images.rgb8({ width: 240, height: 160 }), width: 240, height: 160, channels: 3 },
      'PALETTE COLOR': { file: images.paletteColor({ width: 128, height: 128 }), width: 128, height: 128, channels: 3 },
      'JPEG baseline (YBR_FULL_422)': {
        file: await images.dcmtk('dcmcjpeg', ['+eb'], images.rgb8({ width: 240, height: 160 })),
        width: 240,
        height: 160,
        channels: 3,
      },
      'JPEG lossless 16-bit': {
        file: await images.dcmtk('dcmcjpeg', ['+el'], images.ct16({ width: 300, height: 200, signed: true })),
        width: 300,
        height: 200,
        channels: 1,
      },
      'RLE lossless': {
        file: await images.dcmtk('dcmcrle', [], images.ct16({ width: 300, height: 200, signed: false })),
        width: 300,
        height: 200,
        channels: 1,
      },
      'JPEG-LS lossless': {
        file: await images.dcmtk('dcmcjpls', [], images.ct16({ width: 300, height: 200, signed: true })),
        width: 300,
        height: 200,
        channels: 1,
      },
    };
    for (const [kind, { file, width, height, channels }] of Object.entries(kinds)) {
      const { ID } = await store(file);
      for (const size of [16, 64, 150, 512]) {
        for (const format of ['jpeg', 'png', 'webp'] as const) {
          const answer = await thumbnail(`/instances/${ID}/thumbnail?size=${size}&format=${format}`, {
            ...fitInside(width, height, size),
            format,
          });
          const metadata = await sharp(answer.body).metadata();
          if (format !== 'webp') assert.equal(metadata.channels, channels, `${kind}: channels`);
        }
      }
      // The defaults: a JPEG whose longest side is 64.
      await thumbnail(`/instances/${ID}/thumbnail`, { ...fitInside(width, height, 64), format: 'jpeg' });
    }
  });

  it('never answers a 500: an image Orthanc renders gets a thumbnail, one it refuses a 415', async () => {
    const statuses = new Set<number>();
    for (const [kind, file] of Object.entries(images.unusualImages())) {
      const { ID } = await store(file);
      const reference = await rawRequest(`${orthanc.url}/instances/${ID}/rendered`);
      const answer = await get(`/instances/${ID}/thumbnail?size=32&format=png`);
      statuses.add(answer.status);
      assert.equal(
        answer.status,
        reference.status === 200 ? 200 : 415,
        `${kind}: Orthanc answered ${reference.status}, the recipe ${answer.status}`,
      );
      if (answer.status === 200) {
        const metadata = await sharp(answer.body).metadata();
        assert.deepEqual([metadata.width, metadata.height], [32, 24], kind);
      } else {
        assert.match(String(json(answer).Message), /Orthanc cannot render/, kind);
      }
    }
    assert.deepEqual([...statuses].sort(), [200, 415], 'both outcomes are exercised');
  });

  it('renders what Orthanc renders: windowing, MONOCHROME1 inversion, palette colours', async () => {
    const { ID } = await store(images.ct16({ width: 256, height: 256, signed: true }));
    const { ID: inverted } = await store(images.ct16({ width: 256, height: 256, signed: true, monochrome1: true }));
    const { ID: palette } = await store(images.paletteColor({ width: 256, height: 256 }));
    const pixel = async (id: string, x: number, y: number) => {
      const answer = await get(`/instances/${id}/thumbnail?size=256&format=png`);
      const { data, info } = await sharp(answer.body).raw().toBuffer({ resolveWithObject: true });
      return [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels)];
    };
    // sharp decodes to RGB: a gray pixel has three equal samples.
    assert.deepEqual(await pixel(ID, 10, 10), [255, 255, 255], 'the bright square is white');
    // HU 953 in a window of centre 0 and width 2000: (953 + 1000) × 255 / 2000 ≈ 249.
    const [gray, ...others] = await pixel(ID, 250, 250);
    assert.deepEqual(others, [gray, gray]);
    assert.ok(Math.abs(gray! - 249) <= 2, `windowed value ${gray}`);
    assert.deepEqual(await pixel(inverted, 10, 10), [0, 0, 0], 'MONOCHROME1 is inverted');
    const [red, green, blue] = await pixel(palette, 10, 10);
    assert.deepEqual([red, green, blue], [255, 255, 255], 'index 255 of the hot ramp is white');
    const [darkRed, darkGreen] = await pixel(palette, 129, 129);
    assert.ok(darkRed! > darkGreen!, 'the middle of the hot ramp is red, not gray');
  });

  it('renders each frame of a multi-frame instance; a frame out of range is a 400', async () => {
    for (const file of [images.multiFrame8({ width: 100, height: 100, frames: 3 }), images.rgb8({ width: 100, height: 80, frames: 3 })]) {
      const { ID } = await store(file);
      const bodies = new Set<string>();
      const etags = new Set<string>();
      for (const frame of [0, 1, 2]) {
        const answer = await get(`/instances/${ID}/thumbnail?frame=${frame}&format=png`);
        assert.equal(answer.status, 200);
        bodies.add(answer.body.toString('base64'));
        etags.add(header(answer, 'etag'));
      }
      assert.equal(bodies.size, 3, 'three different frames');
      assert.equal(etags.size, 3);
      const beyond = await get(`/instances/${ID}/thumbnail?frame=3`);
      assert.equal(beyond.status, 400);
      assert.equal(json(beyond).Parameter, 'frame');
      assert.equal(json(beyond).Frames, 3);
    }
  });

  it('answers 415 with the reason for an instance without an image, or one Orthanc cannot decode', async () => {
    const pdf = await orthanc.json('POST', '/tools/create-dicom', {
      Tags: { PatientID: 'RCP-THUMB', PatientName: 'Thumb^Nail', Modality: 'DOC', SOPClassUID: '1.2.840.10008.5.1.4.1.1.104.1' },
      Content: `data:application/pdf;base64,${images.minimalPdf().toString('base64')}`,
    });
    const report = await store(images.textReport());
    for (const id of [pdf.ID as string, report.ID]) {
      const answer = await get(`/instances/${id}/thumbnail`);
      assert.equal(answer.status, 415);
      assert.match(header(answer, 'content-type'), /^application\/json/);
      assert.match(String(json(answer).Message), /no image/);
      assert.equal(header(answer, 'cache-control'), '', 'an error is not cached');
    }
    const fakeJpeg2000 = images.relabelTransferSyntax(
      await images.dcmtk('dcmcjpeg', ['+eb'], images.rgb8({ width: 64, height: 64 })),
      images.JPEG_BASELINE,
      images.JPEG_2000,
    );
    const undecodable = await store(fakeJpeg2000);
    const answer = await get(`/instances/${undecodable.ID}/thumbnail`);
    assert.equal(answer.status, 415);
    assert.match(String(json(answer).Message), /Orthanc cannot render/);
    assert.equal(json(answer).TransferSyntax, images.JPEG_2000);
    // Orthanc's own answer, for reference.
    assert.equal((await rawRequest(`${orthanc.url}/instances/${undecodable.ID}/rendered`)).status, 415);
  });

  it('answers a strong ETag and a year of caching, and 304 to If-None-Match', async () => {
    const { ID } = await store(images.ct16({ width: 128, height: 128, signed: true }));
    const first = await get(`/instances/${ID}/thumbnail`);
    const etag = header(first, 'etag');
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/, 'strong, quoted');
    assert.equal(header(first, 'cache-control'), 'private, max-age=31536000, immutable');
    const again = await get(`/instances/${ID}/thumbnail`);
    assert.equal(header(again, 'etag'), etag);
    assert.deepEqual(again.body, first.body);
    for (const variant of ['?size=65', '?format=png', '?quality=81', '?frame=0&size=63']) {
      assert.notEqual(header(await get(`/instances/${ID}/thumbnail${variant}`), 'etag'), etag, variant);
    }
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const notModified = await get(`/instances/${ID}/thumbnail`, { 'if-none-match': ifNoneMatch });
      assert.equal(notModified.status, 304, ifNoneMatch);
      assert.equal(notModified.body.length, 0);
      assert.equal(header(notModified, 'etag'), etag);
      assert.equal(notModified.headers['content-length'], undefined);
    }
    assert.equal((await get(`/instances/${ID}/thumbnail`, { 'if-none-match': '"other"' })).status, 200);
  });

  it('renders a thumbnail once for simultaneous requests, then serves it from the cache', async () => {
    const { ID } = await store(images.ct16({ width: 256, height: 256, signed: false }));
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(`/instances/${ID}/thumbnail?size=100`)));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(8).fill(200),
    );
    assert.deepEqual(answers.map((a) => header(a, 'x-cache')).sort(), ['HIT', 'HIT', 'HIT', 'HIT', 'HIT', 'HIT', 'HIT', 'MISS']);
    assert.equal(new Set(answers.map((a) => a.body.toString('base64'))).size, 1);
    assert.equal(header(await get(`/instances/${ID}/thumbnail?size=100`), 'x-cache'), 'HIT');
  });

  it('keeps no more encoded thumbnails than CacheMegabytes allows, least recently used out first', async () => {
    const small = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { thumbnails: { Enabled: true, CacheMegabytes: 0.01 } },
    });
    try {
      const ids: string[] = [];
      for (let n = 0; n < 8; n += 1) ids.push((await store(images.rgb8({ width: 256, height: 256, frames: 1 }))).ID);
      // A 256×256 PNG of these gradients is about 4.5 kB: 8 of them do not fit in 10 kB.
      const sizes: number[] = [];
      for (const id of ids) {
        const answer = await rawRequest(`${small.url}/instances/${id}/thumbnail?size=256&format=png`);
        assert.equal(header(answer, 'x-cache'), 'MISS');
        sizes.push(answer.body.length);
      }
      assert.ok(sizes.reduce((a, b) => a + b) > 0.01 * 2 ** 20, `the thumbnails (${sizes.join(', ')} bytes) overflow the cache`);
      assert.equal(
        header(await rawRequest(`${small.url}/instances/${ids.at(-1)}/thumbnail?size=256&format=png`), 'x-cache'),
        'HIT',
        'the newest is kept',
      );
      assert.equal(
        header(await rawRequest(`${small.url}/instances/${ids[0]}/thumbnail?size=256&format=png`), 'x-cache'),
        'MISS',
        'the oldest was evicted',
      );
    } finally {
      await small.stop();
    }
  });

  it('serves the middle slice of a series, and follows it as instances arrive', async () => {
    const study = images.newStudy();
    const seriesInstanceUid = study.series();
    const stored: Record<number, Stored> = {};
    for (const n of [3, 1, 2]) {
      stored[n] = await store(
        images.ct16({
          width: 64,
          height: 64,
          signed: true,
          studyInstanceUid: study.studyInstanceUid,
          seriesInstanceUid,
          instanceNumber: n,
        }),
      );
    }
    const seriesId = stored[1]!.ParentSeries;
    const first = await get(`/series/${seriesId}/thumbnail?size=32`);
    assert.equal(first.status, 200);
    assert.equal(header(first, 'cache-control'), 'private, no-cache');
    assert.equal(header(first, 'content-location'), `../../instances/${stored[2]!.ID}/thumbnail?size=32&format=jpeg&quality=80&frame=0`);
    const instance = await get(`/instances/${stored[2]!.ID}/thumbnail?size=32`);
    assert.equal(header(first, 'etag'), header(instance, 'etag'), 'the ETag of the instance shown');
    assert.deepEqual(first.body, instance.body);
    assert.equal((await get(`/series/${seriesId}/thumbnail?size=32`, { 'if-none-match': header(first, 'etag') })).status, 304);

    for (const n of [4, 5]) {
      stored[n] = await store(
        images.ct16({
          width: 64,
          height: 64,
          signed: true,
          studyInstanceUid: study.studyInstanceUid,
          seriesInstanceUid,
          instanceNumber: n,
        }),
      );
    }
    const later = await get(`/series/${seriesId}/thumbnail?size=32`, { 'if-none-match': header(first, 'etag') });
    assert.equal(later.status, 200, 'a new middle slice: a new thumbnail');
    assert.match(header(later, 'content-location'), new RegExp(`/instances/${stored[3]!.ID}/`));
  });

  it('serves the middle frame of a series made of one multi-frame instance', async () => {
    const { ID, ParentSeries } = await store(images.multiFrame8({ width: 64, height: 64, frames: 5 }));
    const answer = await get(`/series/${ParentSeries}/thumbnail?format=png`);
    assert.equal(answer.status, 200);
    assert.equal(header(answer, 'content-location'), `../../instances/${ID}/thumbnail?size=64&format=png&frame=2`);
    assert.deepEqual(answer.body, (await get(`/instances/${ID}/thumbnail?format=png&frame=2`)).body);
  });

  it('serves a study by its image series with the most instances', async () => {
    const study = images.newStudy();
    const [ct, rgb, sr] = [study.series(), study.series(), study.series()];
    const inStudy = { studyInstanceUid: study.studyInstanceUid };
    for (let n = 1; n <= 4; n += 1) await store(images.textReport({ ...inStudy, seriesInstanceUid: sr, instanceNumber: n }));
    const chosen = [];
    for (let n = 1; n <= 3; n += 1)
      chosen.push(await store(images.ct16({ ...inStudy, seriesInstanceUid: ct, instanceNumber: n, width: 64, height: 64, signed: true })));
    const { ParentStudy } = await store(images.rgb8({ ...inStudy, seriesInstanceUid: rgb, width: 64, height: 64 }));
    const answer = await get(`/studies/${ParentStudy}/thumbnail`);
    assert.equal(answer.status, 200);
    assert.equal(header(answer, 'content-location'), `../../instances/${chosen[1]!.ID}/thumbnail?size=64&format=jpeg&quality=80&frame=0`);

    const reportsOnly = images.newStudy();
    const report = await store(images.textReport({ studyInstanceUid: reportsOnly.studyInstanceUid }));
    const refused = await get(`/studies/${report.ParentStudy}/thumbnail`);
    assert.equal(refused.status, 415);
    assert.deepEqual(json(refused).Modalities, ['SR']);
  });

  it('answers 400 naming the parameter for each bad size, format, quality or frame', async () => {
    const { ID, ParentSeries, ParentStudy } = await store(images.ct16({ width: 64, height: 64, signed: true }));
    const bad: [string, string][] = [
      ['size', '0'],
      ['size', '513'],
      ['size', '-1'],
      ['size', '1.5'],
      ['size', 'big'],
      ['size', ''],
      ['format', 'gif'],
      ['format', 'JPEG'],
      ['format', ''],
      ['quality', '0'],
      ['quality', '101'],
      ['quality', 'high'],
      ['frame', '-1'],
      ['frame', 'x'],
      ['frame', '1'],
    ];
    for (const [name, value] of bad) {
      const answer = await get(`/instances/${ID}/thumbnail?${name}=${encodeURIComponent(value)}`);
      assert.equal(answer.status, 400, `${name}=${value}`);
      assert.match(header(answer, 'content-type'), /^application\/json/);
      assert.equal(json(answer).Parameter, name, `${name}=${value}`);
      assert.equal(json(answer).HttpStatus, 400);
    }
    for (const path of [`/series/${ParentSeries}/thumbnail?frame=0`, `/studies/${ParentStudy}/thumbnail?frame=0`]) {
      assert.equal(json(await get(path)).Parameter, 'frame', path);
    }
    assert.equal((await get(`/instances/${ID}/thumbnail?cachebuster=1`)).status, 200, 'other arguments are ignored');
  });

  it('answers 404 JSON for unknown IDs, and 405 with Allow for other methods', async () => {
    for (const level of ['instances', 'series', 'studies']) {
      const answer = await get(`/${level}/0000-unknown/thumbnail`);
      assert.equal(answer.status, 404, level);
      assert.match(String(json(answer).Message), new RegExp(`Unknown resource: ${level}/0000-unknown`));
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const refused = await rawRequest(`${host.url}/${level}/0000-unknown/thumbnail`, { method });
        assert.equal(refused.status, 405, `${method} ${level}`);
        assert.equal(header(refused, 'allow'), 'GET,HEAD');
      }
    }
    const { ID } = await store(images.ct16({ width: 64, height: 64, signed: true }));
    const head = await rawRequest(`${host.url}/instances/${ID}/thumbnail`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(header(head, 'content-type'), 'image/jpeg');
  });

  it('disables only itself, with a message that says so, when sharp cannot be loaded', async () => {
    // sharp's JavaScript without its native package (@img/sharp-<platform>), as after an install
    // that skipped optional dependencies: importing it throws sharp's own error.
    const copy = await mkdtemp(join(tmpdir(), 'orthanc-recipes-nosharp-'));
    const require = createRequire(import.meta.url);
    const packageFolder = (name: string) => {
      let folder = dirname(require.resolve(name, { paths: [dirname(require.resolve('sharp'))] }));
      while (!existsSync(join(folder, 'package.json')) || JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).name !== name)
        folder = dirname(folder);
      return folder;
    };
    for (const name of ['sharp', 'detect-libc', 'semver', '@img/colour']) {
      await cp(packageFolder(name), join(copy, 'node_modules', name), { recursive: true });
    }
    const missingSharp = createThumbnailsRecipe(() => import(pathToFileURL(join(copy, 'node_modules', 'sharp', 'dist', 'index.mjs')).href));
    const { host: inProcess, url } = await startHostInProcess(
      { Orthanc: { Url: orthanc.url }, Recipes: { hello: { Enabled: true, LogChanges: false }, thumbnails: { Enabled: true } } },
      [missingSharp],
    );
    try {
      const recipes = JSON.parse((await rawRequest(`${url}/recipes`)).body.toString()) as {
        Recipes: { Id: string; Status: string; Error?: string }[];
      };
      const byId = Object.fromEntries(recipes.Recipes.map((r) => [r.Id, r]));
      assert.equal(byId.hello?.Status, 'running');
      assert.equal(byId.thumbnails?.Status, 'failed');
      assert.match(
        byId.thumbnails?.Error ?? '',
        /^sharp could not be loaded, so thumbnails are disabled .*: Could not load the "sharp" module .*npm install --os=linux --cpu=x64 sharp/,
      );
      assert.equal((await rawRequest(`${url}/toto`)).status, 200, 'the other recipes run');
      const { ID } = await store(images.ct16({ width: 64, height: 64, signed: true }));
      const proxied = await rawRequest(`${url}/instances/${ID}/thumbnail`);
      assert.equal(proxied.status, 404, 'the route is not served: Orthanc answers it');
    } finally {
      await inProcess.close();
      await rm(copy, { recursive: true, force: true });
    }
  });
});

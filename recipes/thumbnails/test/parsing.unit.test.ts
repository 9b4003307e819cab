import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePam } from '../pam.js';
import { parseParams } from '../params.js';
import { fitInside } from '../thumbnailer.js';
import type { Options } from '../options.generated.js';
import { validateConfig } from '../../../host/index.js';

const pam = (header: string, data: number[]) => Buffer.concat([Buffer.from(`P7\n${header}ENDHDR\n`, 'latin1'), Buffer.from(data)]);

describe('thumbnails: PAM, sizes and query parameters (no Orthanc)', () => {
  it('reads 8-bit PAM as it is, and scales 16-bit (big-endian) samples down to 8 bits', () => {
    const gray = parsePam(pam('WIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\n', [7, 250]));
    assert.deepEqual({ ...gray, pixels: [...gray.pixels] }, { width: 2, height: 1, channels: 1, pixels: [7, 250] });
    const deep = parsePam(pam('WIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 65535\nTUPLTYPE RGB\n', [0xff, 0xff, 0x80, 0x00, 0x00, 0x00]));
    assert.deepEqual([...deep.pixels], [255, 128, 0]);
    assert.throws(() => parsePam(Buffer.from('\x89PNG\r\n')), /not a PAM image/);
    assert.throws(() => parsePam(pam('WIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\n', [1, 2, 3])), /truncated/);
    assert.throws(() => parsePam(pam('WIDTH 0\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\n', [])), /unsupported PAM header/);
  });

  it('fits the longest side in the size, keeps the aspect ratio, never enlarges', () => {
    assert.deepEqual(fitInside(512, 512, 64), { width: 64, height: 64 });
    assert.deepEqual(fitInside(300, 200, 64), { width: 64, height: 43 });
    assert.deepEqual(fitInside(200, 300, 64), { width: 43, height: 64 });
    assert.deepEqual(fitInside(32, 16, 64), { width: 32, height: 16 });
    assert.deepEqual(fitInside(4000, 10, 64), { width: 64, height: 1 });
  });

  it('applies the defaults, ignores PNG quality in the key, and names each bad parameter', () => {
    const options: Options = {
      DefaultSize: 64,
      MaxSize: 512,
      DefaultFormat: 'jpeg',
      DefaultQuality: 80,
      CacheMegabytes: 64,
      RepresentativeMaxAgeSeconds: 0,
    };
    assert.deepEqual(parseParams({}, options, true), { size: 64, format: 'jpeg', quality: 80, frame: 0 });
    assert.deepEqual(parseParams({ size: '512', format: 'png', quality: '5' }, options, false), {
      size: 512,
      format: 'png',
      quality: 0,
      frame: undefined,
    });
    for (const [name, value, frameAllowed] of [
      ['size', '513', true],
      ['size', '007x', true],
      ['format', 'tiff', true],
      ['quality', '1e2', true],
      ['frame', '0', false],
      ['frame', '+1', true],
      ['format', 'toString', true],
      ['format', '__proto__', true],
      ['format', 'constructor', true],
      ['format', 'hasOwnProperty', true],
    ] as const) {
      assert.throws(
        () => parseParams({ [name]: value }, options, frameAllowed),
        (error: { status: number; details: { Parameter: string } }) => {
          assert.equal(error.status, 400);
          assert.equal(error.details.Parameter, name);
          return true;
        },
      );
    }
  });

  it('refuses a DefaultSize larger than MaxSize as a configuration error, naming the pointer', async () => {
    await assert.rejects(
      validateConfig({ Recipes: { thumbnails: { Enabled: true, DefaultSize: 600, MaxSize: 512 } } }, 'orthanc-recipes.json'),
      {
        message: 'orthanc-recipes.json: recipe "thumbnails": /Recipes/thumbnails/DefaultSize: 600 is larger than MaxSize (512)',
      },
    );
  });
});

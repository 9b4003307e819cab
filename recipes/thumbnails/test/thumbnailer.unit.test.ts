import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { OrthancHttpError, createLogger, type OrthancBinding } from '../../../shared/binding/index.js';
import type { Options } from '../options.generated.js';
import { Thumbnailer } from '../thumbnailer.js';

const options: Options = {
  DefaultSize: 64,
  MaxSize: 512,
  DefaultFormat: 'jpeg',
  DefaultQuality: 80,
  CacheMegabytes: 64,
  RepresentativeMaxAgeSeconds: 0,
};
const log = createLogger('thumbnails', { level: 'error', write: () => {} });

/**
 * A fake Orthanc that knows instances by their size and renders gray PAM images the way Orthanc
 * does (`width`/`height` fit inside, enlarging too), recording every GET.
 */
function fakeOrthanc(instances: Record<string, { width: number; height: number }>) {
  const calls: { uri: string; headers?: Record<string, string> }[] = [];
  const u16 = (value: number) => Buffer.from([value & 0xff, value >> 8]);
  const binding = {
    async restApiGet(uri: string, headers?: Record<string, string>) {
      calls.push({ uri, headers });
      const url = new URL(uri, 'http://orthanc');
      const [, , id, what, tag] = url.pathname.split('/');
      const instance = instances[id!];
      if (!instance) throw new OrthancHttpError('GET', uri, 404, { Message: 'Unknown resource' });
      if (what === 'content') return u16(tag === '0028,0010' ? instance.height : instance.width);
      await new Promise((resolve) => setTimeout(resolve, 5)); // rendering takes a while
      const box = Number(url.searchParams.get('width') ?? 0);
      const ratio = box ? box / Math.max(instance.width, instance.height) : 1;
      const [width, height] = [Math.round(instance.width * ratio), Math.round(instance.height * ratio)];
      const header = Buffer.from(`P7\nWIDTH ${width}\nHEIGHT ${height}\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n`, 'latin1');
      return Buffer.concat([header, Buffer.alloc(width * height, 128)]);
    },
  };
  return { calls, orthanc: binding as unknown as OrthancBinding };
}

const key = (instanceId: string, size: number) => ({ instanceId, frame: 0, size, format: 'png' as const, quality: 0 });

describe('thumbnails: what is asked of Orthanc (a fake Orthanc)', () => {
  it('asks for a PAM at most twice the size, and for the full image when it is smaller than that', async () => {
    const { calls, orthanc } = fakeOrthanc({ big: { width: 512, height: 256 }, small: { width: 100, height: 50 } });
    const thumbnailer = new Thumbnailer(orthanc, sharp, options, log);
    const big = await thumbnailer.get(key('big', 64));
    assert.deepEqual(
      await sharp(big.body)
        .metadata()
        .then((m) => [m.width, m.height]),
      [64, 32],
    );
    const rendered = calls.filter((c) => c.uri.includes('/rendered'));
    assert.deepEqual(
      rendered.map((c) => c.uri),
      ['/instances/big/frames/0/rendered?width=128&height=128'],
    );
    assert.equal(rendered[0]!.headers?.accept, 'image/x-portable-arbitrarymap');
    const small = await thumbnailer.get(key('small', 64));
    assert.deepEqual(
      await sharp(small.body)
        .metadata()
        .then((m) => [m.width, m.height]),
      [64, 32],
    );
    const tiny = await thumbnailer.get(key('small', 256));
    assert.deepEqual(
      await sharp(tiny.body)
        .metadata()
        .then((m) => [m.width, m.height]),
      [100, 50],
      'never enlarged',
    );
    assert.deepEqual(
      calls.filter((c) => c.uri.startsWith('/instances/small/frames')).map((c) => c.uri),
      ['/instances/small/frames/0/rendered', '/instances/small/frames/0/rendered'],
    );
    assert.equal(
      calls.filter((c) => c.uri.startsWith('/instances/small/content')).length,
      2,
      'Rows and Columns are read once per instance',
    );
  });

  it('renders once for simultaneous requests, and not again while it is cached', async () => {
    const { calls, orthanc } = fakeOrthanc({ one: { width: 300, height: 300 } });
    const thumbnailer = new Thumbnailer(orthanc, sharp, options, log);
    const answers = await Promise.all(Array.from({ length: 5 }, () => thumbnailer.get(key('one', 64))));
    assert.deepEqual(answers.map((a) => a.cacheStatus).sort(), ['HIT', 'HIT', 'HIT', 'HIT', 'MISS']);
    assert.equal((await thumbnailer.get(key('one', 64))).cacheStatus, 'HIT');
    assert.equal(calls.filter((c) => c.uri.includes('/rendered')).length, 1);
    const uncached = new Thumbnailer(orthanc, sharp, { ...options, CacheMegabytes: 0 }, log);
    await uncached.get(key('one', 64));
    assert.equal((await uncached.get(key('one', 64))).cacheStatus, 'MISS', 'CacheMegabytes 0 keeps nothing');
  });
});

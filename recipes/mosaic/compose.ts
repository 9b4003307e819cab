import { createHash } from 'node:crypto';
import type { Sharp } from 'sharp';
import { OrthancHttpError, type OrthancBinding } from '../../shared/binding/index.js';
import { grid, type MosaicParams } from './params.js';
import type { Slice } from './slices.js';

type SharpFactory = typeof import('sharp').default;

const PARALLEL_RENDERS = 4;
/** Changes when the drawing changes, so that browsers do not keep an old mosaic under the same ETag. */
const RENDERING_VERSION = 'mosaic-1';

/** A strong ETag: instances never change under an ID, so the chosen slices and the parameters decide. */
export function mosaicEtag(seriesId: string, slices: Slice[], params: MosaicParams, columns: number, libvips: string): string {
  const hash = createHash('sha256').update(
    [RENDERING_VERSION, libvips, seriesId, params.size, columns, params.format, params.quality].join('\n'),
  );
  for (const slice of slices) hash.update(`\n${slice.instanceId}:${slice.frame}`);
  return `"${hash.digest('base64url').slice(0, 32)}"`;
}

/**
 * Renders each slice through Orthanc (`/frames/{n}/rendered`, PNG, at most `size` on its longest
 * side: Orthanc applies the windowing, rescale and photometric interpretation), fits it into a
 * `size`×`size` black tile with sharp, and copies it into its place in the mosaic. A slice Orthanc cannot
 * render (a non-image instance) stays black. Resolves with undefined when none could be rendered.
 */
export async function composeMosaic(
  orthanc: OrthancBinding,
  sharp: SharpFactory,
  slices: Slice[],
  params: MosaicParams,
): Promise<{ body: Buffer; rendered: number } | undefined> {
  const { size } = params;
  const { columns, rows } = grid(slices.length, params.columns);
  const width = columns * size;
  // One RGB canvas that each tile is copied into as it arrives, then encoded once: memory is the
  // canvas plus a few tiles (a sharp composite of 256 inputs held far more: 139 MB more RSS for a
  // 2048x2048 mosaic, against the canvas' 12 MB).
  const canvas = Buffer.alloc(width * rows * size * 3);
  let rendered = 0;
  let next = 0;
  const worker = async () => {
    while (next < slices.length) {
      const index = next++;
      const { instanceId, frame } = slices[index]!;
      let png: Buffer;
      try {
        png = await orthanc.restApiGet(
          `/instances/${encodeURIComponent(instanceId)}/frames/${frame}/rendered?width=${size}&height=${size}`,
          { Accept: 'image/png' },
        );
      } catch (error) {
        if (error instanceof OrthancHttpError) continue; // not an image (or deleted meanwhile): a black tile
        throw error;
      }
      const tile = await sharp(png)
        .resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer();
      const left = (index % columns) * size * 3;
      const top = Math.floor(index / columns) * size;
      for (let y = 0; y < size; y += 1) tile.copy(canvas, (top + y) * width * 3 + left, y * size * 3, (y + 1) * size * 3);
      rendered += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_RENDERS, slices.length) }, worker));
  if (rendered === 0) return undefined;
  const image: Sharp = sharp(canvas, { raw: { width, height: rows * size, channels: 3 } });
  const body = await (params.format === 'png' ? image.png() : image.jpeg({ quality: params.quality })).toBuffer();
  return { body, rendered };
}

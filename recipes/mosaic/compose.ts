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
  const hash = createHash('sha256').update([RENDERING_VERSION, libvips, seriesId, params.size, columns, params.format, params.quality].join('\n'));
  for (const slice of slices) hash.update(`\n${slice.instanceId}:${slice.frame}`);
  return `"${hash.digest('base64url').slice(0, 32)}"`;
}

/**
 * Renders each slice through Orthanc (`/frames/{n}/rendered`, PNG, at most `size` on its longest
 * side: Orthanc applies the windowing, rescale and photometric interpretation), fits it into a
 * `size`×`size` black tile with sharp, and composes the tiles row by row. A slice Orthanc cannot
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
  const tiles: ({ input: Buffer; left: number; top: number } | undefined)[] = new Array(slices.length);
  let next = 0;
  const worker = async () => {
    while (next < slices.length) {
      const index = next++;
      const { instanceId, frame } = slices[index]!;
      let png: Buffer;
      try {
        png = await orthanc.restApiGet(`/instances/${encodeURIComponent(instanceId)}/frames/${frame}/rendered?width=${size}&height=${size}`, { Accept: 'image/png' });
      } catch (error) {
        if (error instanceof OrthancHttpError) continue; // not an image (or deleted meanwhile): a black tile
        throw error;
      }
      const tile = await sharp(png).resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0 } }).removeAlpha().toColourspace('srgb').png({ compressionLevel: 0 }).toBuffer();
      tiles[index] = { input: tile, left: (index % columns) * size, top: Math.floor(index / columns) * size };
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_RENDERS, slices.length) }, worker));
  const composites = tiles.filter((tile): tile is NonNullable<typeof tile> => tile !== undefined);
  if (composites.length === 0) return undefined;
  let image: Sharp = sharp({ create: { width: columns * size, height: rows * size, channels: 3, background: { r: 0, g: 0, b: 0 } } }).composite(composites);
  image = params.format === 'png' ? image.png() : image.jpeg({ quality: params.quality });
  return { body: await image.toBuffer(), rendered: composites.length };
}

import { RecipeHttpError } from '../../shared/recipe.js';
import type sharpModule from 'sharp';

export type Sharp = typeof sharpModule;

/** What the recipe answers instead of storing: a status and why. */
export class ImageRefused extends RecipeHttpError {
  constructor(status: 400 | 413 | 415, message: string) {
    super(status, status === 413 ? 'image-too-large' : status === 415 ? 'unsupported-image' : 'bad-request', message);
  }
}

/**
 * Checks that sharp can decode `bytes` as a PNG or JPEG of at most `maxPixels`, and returns the
 * data URI that Orthanc's `/tools/create-dicom` takes. A JPEG is passed on as it is (Orthanc 1.10
 * and 1.12.7 decode it and store the pixels uncompressed, so there is no second lossy encoding); a
 * PNG is written again by sharp without its alpha channel, at its own bit depth (8 or 16).
 */
export async function toDataUri(
  sharp: Sharp,
  bytes: Buffer,
  maxPixels: number,
): Promise<{ uri: string; width: number; height: number; format: 'png' | 'jpeg' }> {
  let metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImageRefused(415, `the body is not an image sharp can decode: ${(error as Error).message.split('\n')[0]}`);
  }
  const { format, width = 0, height = 0 } = metadata;
  if (format !== 'png' && format !== 'jpeg') throw new ImageRefused(415, `the body is ${format ?? 'an unknown'} image; PNG or JPEG only`);
  if (width * height > maxPixels) throw new ImageRefused(413, `the image is ${width}x${height}, more than MaxPixels (${maxPixels})`);
  try {
    // Decoding the whole image proves it is whole (a truncated file fails here, not in Orthanc).
    const image = sharp(bytes, { limitInputPixels: maxPixels });
    if (format === 'jpeg') {
      await image.clone().raw().toBuffer();
      return { uri: `data:image/jpeg;base64,${bytes.toString('base64')}`, width, height, format };
    }
    const sixteen = metadata.depth === 'ushort';
    const png = await image
      .removeAlpha()
      .toColourspace(metadata.channels !== undefined && metadata.channels <= 2 ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb')
      .png()
      .toBuffer();
    return { uri: `data:image/png;base64,${png.toString('base64')}`, width, height, format };
  } catch (error) {
    throw new ImageRefused(415, `sharp cannot decode the ${format} image: ${(error as Error).message.split('\n')[0]}`);
  }
}

/**
 * Draws the Python sample's cross (pil-conversions.py: both diagonals, grey 128, one pixel wide)
 * on a rendered frame, as an SVG overlay composed by sharp; answers a PNG.
 */
export async function drawCross(sharp: Sharp, frame: Buffer): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(frame).metadata();
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" shape-rendering="crispEdges">` +
    `<line x1="0" y1="0" x2="${width}" y2="${height}" stroke="rgb(128,128,128)" stroke-width="1"/>` +
    `<line x1="0" y1="${height}" x2="${width}" y2="0" stroke="rgb(128,128,128)" stroke-width="1"/></svg>`;
  return sharp(frame)
    .composite([{ input: Buffer.from(svg) }])
    .removeAlpha()
    .png()
    .toBuffer();
}

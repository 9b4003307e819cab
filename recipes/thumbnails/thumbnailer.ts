import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type sharpModule from 'sharp';
import {
  OrthancHttpError,
  isNotFound,
  OrthancUnreachableError,
  describe,
  type Logger,
  type OrthancBinding,
} from '../../shared/binding/index.js';
import type { Options } from './options.generated.js';
import { parsePam } from './pam.js';
import { ThumbnailError, type ThumbnailFormat } from './params.js';

export type Sharp = typeof sharpModule;

/**
 * Bumped whenever the same request would give different bytes (resampling, encoder settings),
 * so that ETags and the caches of browsers change with it.
 */
const RENDERING_VERSION = 1;

/** One thumbnail to make: the instance and frame are resolved, the parameters checked. */
export interface ThumbnailKey {
  instanceId: string;
  frame: number;
  size: number;
  format: ThumbnailFormat;
  quality: number;
}

export interface Thumbnail {
  body: Buffer;
  /** `HIT` when this request did not render it (cache, or an identical request in flight); `MISS` otherwise. */
  cacheStatus: 'HIT' | 'MISS';
}

interface Dimensions {
  width: number;
  height: number;
}

const encode = encodeURIComponent;

/**
 * Renders thumbnails from Orthanc's `/rendered` (which applies rescale, windowing and every
 * transfer syntax Orthanc decodes) with sharp, keeps the encoded ones in an LRU cache bounded in
 * bytes, and renders a thumbnail asked for by several requests at once only once.
 */
export class Thumbnailer {
  private readonly cache: LRUCache<string, Buffer> | undefined;
  private readonly inFlight = new Map<string, Promise<Buffer>>();
  /** Rows and Columns per instance (an instance never changes), to ask Orthanc for a reduced size. */
  private readonly dimensions = new LRUCache<string, Dimensions>({ max: 10_000 });
  private readonly versionTag: string;

  constructor(
    private readonly orthanc: OrthancBinding,
    private readonly sharp: Sharp,
    options: Options,
    private readonly log: Logger,
  ) {
    const maxSize = Math.floor(options.CacheMegabytes * 2 ** 20);
    this.cache =
      maxSize > 0 ? new LRUCache<string, Buffer>({ maxSize, sizeCalculation: (body, key) => body.length + key.length }) : undefined;
    this.versionTag = `${RENDERING_VERSION}/${sharp.versions.vips}/${sharp.versions.sharp ?? ''}`;
  }

  /**
   * This thumbnailer calling Orthanc through `orthanc` (a request's binding, acting as the
   * caller), with the same caches. The cache answers by instance: check the caller's right on
   * the instance before (see `CallerRights`).
   */
  as(orthanc: OrthancBinding): Thumbnailer {
    return Object.create(this, { orthanc: { value: orthanc } }) as Thumbnailer;
  }

  /** A strong ETag: same key, same bytes (for as long as the rendering code and libvips are the same). */
  etag(key: ThumbnailKey): string {
    const text = [this.versionTag, key.instanceId, key.frame, key.size, key.format, key.quality].join('\n');
    return `"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;
  }

  async get(key: ThumbnailKey): Promise<Thumbnail> {
    const id = this.etag(key);
    const cached = this.cache?.get(id);
    if (cached) return { body: cached, cacheStatus: 'HIT' };
    const pending = this.inFlight.get(id);
    if (pending) return { body: await pending, cacheStatus: 'HIT' };
    const rendering = this.render(key).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, rendering);
    const body = await rendering;
    this.cache?.set(id, body);
    return { body, cacheStatus: 'MISS' };
  }

  /** Bytes held by the cache (issue 18: metrics). */
  get cacheBytes(): number {
    return this.cache?.calculatedSize ?? 0;
  }

  clear(): void {
    this.cache?.clear();
    this.dimensions.clear();
  }

  private async render(key: ThumbnailKey): Promise<Buffer> {
    const { width, height } = await this.dimensionsOf(key.instanceId);
    const target = fitInside(width, height, key.size);
    // Orthanc resizes with a bilinear filter and no anti-aliasing, so it is asked for twice the
    // size at most (less data to move and decode) and sharp's Lanczos filter makes the final size.
    // Never more than the original: Orthanc would enlarge. PAM is lossless and costs no PNG
    // compression on Orthanc's side nor decompression on ours.
    const box = 2 * key.size;
    const reduce = Math.max(width, height) > box ? `?width=${box}&height=${box}` : '';
    const uri = `/instances/${encode(key.instanceId)}/frames/${key.frame}/rendered${reduce}`;
    let rendered: Buffer;
    try {
      rendered = await this.orthanc.restApiGet(uri, { accept: 'image/x-portable-arbitrarymap' });
    } catch (error) {
      throw await this.explainRenderingFailure(key, error);
    }
    try {
      const pam = parsePam(rendered);
      let image = this.sharp(pam.pixels, { raw: { width: pam.width, height: pam.height, channels: pam.channels } });
      if (pam.width !== target.width || pam.height !== target.height) {
        image = image.resize({ width: target.width, height: target.height, fit: 'fill' });
      }
      // Grayscale stays one channel (sharp would otherwise write sRGB, three times the samples).
      if (pam.channels <= 2) image = image.toColourspace('b-w');
      if (key.format === 'jpeg') image = image.jpeg({ quality: key.quality });
      else if (key.format === 'webp') image = image.webp({ quality: key.quality });
      else image = image.png();
      return await image.toBuffer();
    } catch (error) {
      // Never a 500 for an instance Orthanc accepted: what Orthanc rendered but sharp refused is
      // reported as unsupported, and logged, since it is likely a bug here.
      this.log.warning('the rendered image could not be converted', { instance: key.instanceId, frame: key.frame, error: describe(error) });
      throw new ThumbnailError(415, `The image rendered by Orthanc could not be converted: ${describe(error)}`, {
        Instance: key.instanceId,
      });
    }
  }

  /** Rows and Columns; 404 for an unknown instance, 415 for one without an image. */
  private async dimensionsOf(instanceId: string): Promise<Dimensions> {
    const known = this.dimensions.get(instanceId);
    if (known) return known;
    const tag = (tag: string) => this.orthanc.restApiGet(`/instances/${encode(instanceId)}/content/${tag}`);
    let rows: Buffer, columns: Buffer;
    try {
      [rows, columns] = await Promise.all([tag('0028,0010'), tag('0028,0011')]);
    } catch (error) {
      if (!isNotFound(error)) throw translate(error);
      const metadata = await this.metadataOf(instanceId);
      throw new ThumbnailError(
        415,
        'This instance has no image (no Rows or Columns): a structured report or an encapsulated document, say',
        {
          Instance: instanceId,
          SopClassUid: metadata.SopClassUid,
        },
      );
    }
    // `/content/` answers a US value as its raw bytes, little-endian.
    const dimensions = { width: readUnsigned(columns), height: readUnsigned(rows) };
    if (!(dimensions.width > 0 && dimensions.height > 0)) {
      const metadata = await this.metadataOf(instanceId);
      throw new ThumbnailError(415, 'This instance has an empty image (Rows or Columns is 0)', {
        Instance: instanceId,
        SopClassUid: metadata.SopClassUid,
      });
    }
    this.dimensions.set(instanceId, dimensions);
    return dimensions;
  }

  /**
   * Turns Orthanc's refusal to render into the answer the client deserves. Orthanc 1.10 answers
   * 404 for a frame out of range and 1.12 answers 415, so the number of frames decides.
   */
  private async explainRenderingFailure(key: ThumbnailKey, error: unknown): Promise<Error> {
    if (!(error instanceof OrthancHttpError)) return translate(error);
    let frames: unknown[];
    try {
      frames = await this.orthanc.restApiGetJson<unknown[]>(`/instances/${encode(key.instanceId)}/frames`);
    } catch (cause) {
      return translate(cause);
    }
    if (key.frame >= frames.length) {
      return new ThumbnailError(400, `frame: this instance has ${frames.length} frame(s), numbered from 0`, {
        Parameter: 'frame',
        Frames: frames.length,
      });
    }
    const metadata: Record<string, string> = await this.metadataOf(key.instanceId).catch(() => ({}));
    const why = typeof error.details === 'object' ? (error.details.Details ?? error.details.Message) : undefined;
    return new ThumbnailError(415, `Orthanc cannot render this instance${why ? ` (${why})` : ''}`, {
      Instance: key.instanceId,
      OrthancStatus: error.httpStatus,
      TransferSyntax: metadata.TransferSyntax,
      SopClassUid: metadata.SopClassUid,
    });
  }

  private async metadataOf(instanceId: string): Promise<Record<string, string>> {
    try {
      return await this.orthanc.restApiGetJson<Record<string, string>>(`/instances/${encode(instanceId)}/metadata?expand`);
    } catch (error) {
      throw translate(error);
    }
  }
}

/** Longest side `size` at most, aspect ratio kept, never enlarged. */
export function fitInside(width: number, height: number, size: number): Dimensions {
  const scale = Math.min(1, size / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function readUnsigned(value: Buffer): number {
  if (value.length === 2) return value.readUInt16LE(0);
  if (value.length === 4) return value.readUInt32LE(0);
  const text = value.toString('latin1').trim();
  return /^\d+$/.test(text) ? Number(text) : NaN;
}

/** Orthanc's 404 stays a 404, Orthanc out of reach is a 503; anything else is left as it is. */
export function translate(error: unknown): Error {
  if (error instanceof ThumbnailError) return error;
  if (isNotFound(error) && error instanceof OrthancHttpError)
    return new ThumbnailError(404, `Unknown resource: ${error.uri.split('/').slice(1, 3).join('/')}`);
  if (error instanceof OrthancUnreachableError) return new ThumbnailError(503, error.message);
  return error instanceof Error ? error : new Error(String(error));
}

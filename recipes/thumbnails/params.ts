import { RecipeHttpError } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';

export type ThumbnailFormat = 'jpeg' | 'png' | 'webp';

export const contentTypes: Readonly<Record<ThumbnailFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
};

/** What a request asks for, once checked. */
export interface ThumbnailParams {
  size: number;
  format: ThumbnailFormat;
  /** 1-100; 0 for PNG, whose output does not depend on it (one cache entry, one ETag). */
  quality: number;
  /** Undefined on series and study routes, which choose their frame. */
  frame: number | undefined;
}

/** A 4xx (or 503) answer: the host sends it in its one JSON error shape, `details` merged in. */
export class ThumbnailError extends RecipeHttpError {
  constructor(status: number, message: string, details: Record<string, unknown> = {}) {
    super(status, thumbnailErrorCodes[status] ?? 'thumbnail-error', message, details);
    this.name = 'ThumbnailError';
  }
}

const thumbnailErrorCodes: Record<number, string> = {
  400: 'bad-parameter',
  404: 'unknown-resource',
  415: 'not-an-image',
  503: 'orthanc-unreachable',
};

const badParameter = (name: string, message: string) => new ThumbnailError(400, `${name}: ${message}`, { Parameter: name });

function integer(query: Record<string, string>, name: string, fallback: number, min: number, max: number): number {
  const text = query[name];
  if (text === undefined) return fallback;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw badParameter(name, `must be an integer between ${min} and ${max}, not ${JSON.stringify(text.slice(0, 40))}`);
  }
  return value;
}

/** Checks `size`, `format`, `quality` and `frame`; other query arguments (cache busters, say) are ignored. */
export function parseParams(query: Record<string, string>, options: Options, frameAllowed: boolean): ThumbnailParams {
  const size = integer(query, 'size', options.DefaultSize, 1, options.MaxSize);
  const format = query.format ?? options.DefaultFormat;
  // Own keys only: `toString` or `__proto__` are in every object, not formats.
  if (!Object.hasOwn(contentTypes, format))
    throw badParameter('format', `must be jpeg, png or webp, not ${JSON.stringify(format.slice(0, 40))}`);
  const quality = integer(query, 'quality', options.DefaultQuality, 1, 100);
  if (!frameAllowed && query.frame !== undefined) {
    throw badParameter('frame', 'only /instances/{id}/thumbnail takes a frame; series and study thumbnails use the middle slice');
  }
  const frame = frameAllowed ? integer(query, 'frame', 0, 0, 999_999_999) : undefined;
  return { size, format: format as ThumbnailFormat, quality: format === 'png' ? 0 : quality, frame };
}

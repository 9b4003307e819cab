import type { Options } from './options.generated.js';

export interface MosaicParams {
  size: number;
  /** Undefined: as square as the number of tiles allows. */
  columns: number | undefined;
  format: 'png' | 'jpeg';
  quality: number;
}

export class BadParameter extends Error {}

const known = new Set(['size', 'columns', 'format', 'quality']);

export function parseParams(query: Record<string, string>, options: Options): MosaicParams {
  for (const name of Object.keys(query))
    if (!known.has(name)) throw new BadParameter(`unknown parameter "${name.slice(0, 40)}"; known: size, columns, format, quality`);
  const has = (name: string) => Object.prototype.hasOwnProperty.call(query, name);
  const size = has('size') ? integer('size', query.size!, 8, options.MaxSize) : options.DefaultSize;
  const columns = has('columns') ? integer('columns', query.columns!, 1, options.MaxTiles) : undefined;
  const format = has('format') ? query.format! : options.DefaultFormat;
  if (format !== 'png' && format !== 'jpeg') throw new BadParameter(`format must be png or jpeg, not "${format.slice(0, 40)}"`);
  const quality = has('quality') ? integer('quality', query.quality!, 1, 100) : 85;
  return { size, columns, format, quality };
}

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new BadParameter(`${name} must be an integer from ${min} to ${max}, not "${value.slice(0, 40)}"`);
  return Number(value);
}

/** The grid for `tiles` tiles: `columns` asked (at most `tiles`), else as square as possible. */
export function grid(tiles: number, columns: number | undefined): { columns: number; rows: number } {
  const cols = Math.max(1, Math.min(tiles, columns ?? Math.ceil(Math.sqrt(tiles))));
  return { columns: cols, rows: Math.max(1, Math.ceil(tiles / cols)) };
}

/** `count` items spread evenly over `items`, the first and the last included. */
export function spread<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  if (count === 1) return [items[Math.floor(items.length / 2)]!];
  return Array.from({ length: count }, (_v, i) => items[Math.round((i * (items.length - 1)) / (count - 1))]!);
}

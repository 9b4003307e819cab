import { ResourceType, isNotFound, type OrthancBinding, type ResourceTypeValue } from './binding/index.js';

/**
 * What several recipes need to know about Orthanc's resources: the levels and their URI
 * segments, Orthanc's time format, and listing a level a page at a time.
 */

export { isNotFound };

/** A level of Orthanc's resource tree, spelt as `/tools/find`'s `Level` and the configuration spell it. */
export type ResourceLevel = 'Patient' | 'Study' | 'Series' | 'Instance';
/** A level's URI segment: `/studies/{id}`. */
export type LevelPath = 'patients' | 'studies' | 'series' | 'instances';

export const levelPath: Readonly<Record<ResourceLevel, LevelPath>> = { Patient: 'patients', Study: 'studies', Series: 'series', Instance: 'instances' };

const levelOfPath: Readonly<Record<LevelPath, ResourceLevel>> = { patients: 'Patient', studies: 'Study', series: 'Series', instances: 'Instance' };

const levelOfType: Partial<Record<ResourceTypeValue, ResourceLevel>> = {
  [ResourceType.PATIENT]: 'Patient',
  [ResourceType.STUDY]: 'Study',
  [ResourceType.SERIES]: 'Series',
  [ResourceType.INSTANCE]: 'Instance',
};

/**
 * A level as Orthanc reads `Level` in `/tools/find`: case-insensitive, singular or plural
 * (`study`, `Studies`, `SERIES`); the URI segment too. Undefined for anything else.
 */
export function parseLevel(text: string): ResourceLevel | undefined {
  const lower = text.toLowerCase();
  if (Object.hasOwn(levelOfPath, lower)) return levelOfPath[lower as LevelPath];
  return (Object.keys(levelPath) as ResourceLevel[]).find((level) => level.toLowerCase() === lower);
}

/** The level of a change's or a binding's resource type (`ResourceType.STUDY` → `Study`); undefined for the others. */
export function levelOfResourceType(type: ResourceTypeValue): ResourceLevel | undefined {
  return levelOfType[type];
}

/** Orthanc's parent level (`Series` → `Study`); undefined for a patient. */
export function parentLevel(level: ResourceLevel): ResourceLevel | undefined {
  return ({ Patient: undefined, Study: 'Patient', Series: 'Study', Instance: 'Series' } as const)[level];
}

const orthancTime = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})$/;

/**
 * Orthanc's time format, `YYYYMMDDTHHMMSS` in UTC (`LastUpdate`, `/tools/now`, the change
 * feed's `Date`). Such strings compare in time order as plain strings.
 */
export function formatOrthancTime(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').slice(0, 15);
}

/** Reads Orthanc's `YYYYMMDDTHHMMSS` (UTC); undefined when malformed or not a real date (`20260230T...`). */
export function parseOrthancTime(text: string): Date | undefined {
  const found = orthancTime.exec(text.trim());
  if (!found) return undefined;
  const [y, mo, d, h, mi, s] = found.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60 ? date : undefined;
}

/** Orthanc's time moved by `seconds`; `''` when `time` is malformed. */
export function shiftOrthancTime(time: string, seconds: number): string {
  const date = parseOrthancTime(time);
  return date ? formatOrthancTime(new Date(date.getTime() + seconds * 1000)) : '';
}

export interface ListOptions {
  /** Resources a request (`limit`). Default 500. */
  pageSize?: number;
  /** `?expand`: whole resources rather than IDs. Default true. */
  expand?: boolean;
  /** Stops between pages (throws its reason) once aborted. */
  signal?: AbortSignal;
}

/**
 * Every resource of a level, a page at a time: `GET /{level}?expand&since=&limit=` (Orthanc
 * 1.10+), until a page comes back short. `since` is an offset into Orthanc's current list, not a
 * cursor: resources deleted while listing shift it, and some are then skipped, so a caller that
 * deletes collects first (or accepts that the next run finds the rest).
 */
export async function* listResources<T = { ID: string }>(orthanc: Pick<OrthancBinding, 'restApiGetJson'>, level: ResourceLevel, options: ListOptions = {}): AsyncGenerator<T> {
  const pageSize = options.pageSize ?? 500;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a whole number ≥ 1 (got ${pageSize})`);
  const expand = (options.expand ?? true) ? 'expand&' : '';
  for (let since = 0; ; since += pageSize) {
    options.signal?.throwIfAborted();
    const page = await orthanc.restApiGetJson<T[]>(`/${levelPath[level]}?${expand}since=${since}&limit=${pageSize}`);
    yield* page;
    if (page.length < pageSize) return;
  }
}

/** The URI segment of a change's or a binding's resource type (`ResourceType.STUDY` → `studies`); undefined for the others. */
export function levelPathOfResourceType(type: ResourceTypeValue): LevelPath | undefined {
  const level = levelOfResourceType(type);
  return level && levelPath[level];
}

/**
 * `Since` and `Limit` as Orthanc's `/tools/find` applies them, to a list already in order: skip
 * `since` items, then keep at most `limit`; a `limit` of 0 means no limit. Both must be whole
 * numbers ≥ 0 (a RangeError otherwise).
 */
export function pageOfList<T>(items: readonly T[], since: number, limit: number): T[] {
  if (!Number.isSafeInteger(since) || since < 0 || !Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`since and limit must be whole numbers ≥ 0 (got ${since} and ${limit})`);
  }
  return items.slice(since, limit === 0 ? undefined : since + limit);
}

import { ResourceType, isNotFound, type OrthancBinding, type ResourceTypeValue } from './binding/index.js';

/**
 * What several recipes need to know about Orthanc's resources: the levels and their URI
 * segments, Orthanc's time format, and listing a level a page at a time.
 */

export { isNotFound };

/** `GET uri` as JSON; undefined on Orthanc's 404 (the resource is gone, or never was). */
export function readOrGone<T>(orthanc: Pick<OrthancBinding, 'restApiGetJson'>, uri: string): Promise<T | undefined> {
  return orthanc.restApiGetJson<T>(uri).catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error as Error)));
}

/** A level of Orthanc's resource tree, spelt as `/tools/find`'s `Level` and the configuration spell it. */
export type ResourceLevel = 'Patient' | 'Study' | 'Series' | 'Instance';
/** A level's URI segment: `/studies/{id}`. */
export type LevelPath = 'patients' | 'studies' | 'series' | 'instances';

export const levelPath: Readonly<Record<ResourceLevel, LevelPath>> = {
  Patient: 'patients',
  Study: 'studies',
  Series: 'series',
  Instance: 'instances',
};

/**
 * One resource as `GET /{level}/{id}` or a listing's `?expand` shows it: the fields recipes read.
 * Orthanc adds more (`Type`, `Status`, labels...); a recipe that needs them widens this type.
 */
export interface ExpandedResource {
  ID: string;
  MainDicomTags?: Record<string, string>;
  /** Studies only: the patient's main tags, as Orthanc copies them into each study. */
  PatientMainDicomTags?: Record<string, string>;
  /** Orthanc's UTC `YYYYMMDDTHHMMSS` of the last instance stored; patients, studies and series only. */
  LastUpdate?: string;
  IsStable?: boolean;
  ParentPatient?: string;
  ParentStudy?: string;
  ParentSeries?: string;
  Studies?: string[];
  Series?: string[];
  Instances?: string[];
}

const levelOfPath: Readonly<Record<LevelPath, ResourceLevel>> = {
  patients: 'Patient',
  studies: 'Study',
  series: 'Series',
  instances: 'Instance',
};

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

/**
 * `listResources`, a page (at most `pageSize` resources) at a time, for a caller that works by
 * batch (a database write a page). Lazy like it: the next page is requested when asked for.
 */
export async function* resourcePages<T = { ID: string }>(
  orthanc: Pick<OrthancBinding, 'restApiGetJson'>,
  level: ResourceLevel,
  options: ListOptions = {},
): AsyncGenerator<T[]> {
  const pageSize = options.pageSize ?? 500;
  let page: T[] = [];
  for await (const resource of listResources<T>(orthanc, level, options)) {
    page.push(resource);
    if (page.length === pageSize) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** What `findResources` asks Orthanc's `/tools/find`; `Since` and `Limit` are its own. */
export interface FindQuery {
  Level: ResourceLevel;
  Query?: Record<string, string>;
  Expand?: boolean;
  /** Orthanc 1.12.5+ (`Capabilities.HasExtendedFind`), e.g. `[{ Type: 'Metadata', Key: 'LastUpdate', Direction: 'DESC' }]`. */
  OrderBy?: readonly { Type: 'DicomTag' | 'Metadata'; Key: string; Direction: 'ASC' | 'DESC' }[];
  [other: string]: unknown;
}

/**
 * Every answer of a `/tools/find`, a page at a time (`Since`/`Limit` in the body), until a page
 * comes back short. Without `OrderBy` the order is Orthanc's internal ID as in `listResources`;
 * the same warning holds about resources deleted while paging.
 */
export async function* findResources<T = ExpandedResource>(
  orthanc: Pick<OrthancBinding, 'restApiPostJson'>,
  query: FindQuery,
  options: Omit<ListOptions, 'expand'> = {},
): AsyncGenerator<T> {
  const pageSize = options.pageSize ?? 500;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a whole number ≥ 1 (got ${pageSize})`);
  for (let since = 0; ; since += pageSize) {
    options.signal?.throwIfAborted();
    const page = await orthanc.restApiPostJson<T[]>('/tools/find', { Query: {}, ...query, Since: since, Limit: pageSize });
    yield* page;
    if (page.length < pageSize) return;
  }
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
 * 1.10+), until a page comes back short. Orthanc's surprises: `since` is ignored unless `limit`
 * comes with it (the whole level comes back at once); the order is Orthanc's internal ID, the
 * order resources were first stored, not by date or UID; and `since` is an offset into Orthanc's
 * current list, not a cursor: resources deleted while listing shift it, and some are then
 * skipped, so a caller that deletes collects first (or accepts that the next run finds the rest).
 * `resourcePages` gives the same listing page by page.
 */
export async function* listResources<T = { ID: string }>(
  orthanc: Pick<OrthancBinding, 'restApiGetJson'>,
  level: ResourceLevel,
  options: ListOptions = {},
): AsyncGenerator<T> {
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

import type { OrthancBinding } from '../../shared/binding/index.js';
import { pageOfList } from '../../shared/orthanc-resources.js';
import type { Pacer } from '../../shared/pacer.js';
import type { MetadataMap, MetadataReader } from './metadata-reader.js';
import type { MetadataFilter } from './patterns.js';
import type { MetadataFind } from './request.js';

/** What Orthanc offers for metadata queries, read once from `/system`. */
export interface OrthancFindSupport {
  /** `Capabilities.HasExtendedFind` (1.12.5+ with SQLite or PostgreSQL 7+): `MetadataQuery` works. */
  hasExtendedFind: boolean;
  /** Metadata names Orthanc knows (built-in, and `UserMetadata` as /system lists it from 1.12.0). */
  knownNames: ReadonlySet<string>;
}

/** Orthanc's built-in metadata, by name (all versions up to 1.12.x). */
export const builtInMetadata = [
  'IndexInSeries',
  'ReceptionDate',
  'RemoteAET',
  'ExpectedNumberOfInstances',
  'ModifiedFrom',
  'AnonymizedFrom',
  'LastUpdate',
  'Origin',
  'TransferSyntax',
  'SopClassUid',
  'RemoteIP',
  'CalledAET',
  'HttpUsername',
  'PixelDataOffset',
  'MainDicomTagsSignature',
  'MainDicomSequences',
  'PixelDataVR',
];

/** One answer of the recipe: the JSON to send, and how it was found. */
export interface FindOutcome {
  answer: unknown[];
  stats: FindStats;
}

/** How a query was answered, for the debug log. */
export interface FindStats {
  /** Constraints handed to Orthanc's MetadataQuery. */
  native: number;
  /** Constraints tested here, over `candidates` resources; `read`: resources whose metadata were read apart from the find. */
  scanned: number;
  candidates: number;
  read: number;
}

type Item = string | { ID: string; [field: string]: unknown };
type Candidates = { items: Item[]; metadata: Map<string, MetadataMap> };

/** One query on its way. */
interface Run {
  orthanc: OrthancBinding;
  reader: MetadataReader;
  query: MetadataFind;
  /** The body for Orthanc: the caller's fields, the native constraints, and `Limit`/`Since` when Orthanc cuts the page. */
  body: Record<string, unknown>;
  /** The constraints tested here; none: Orthanc answered the whole query. */
  scanned: MetadataFilter[];
  /** Whether the body leaves the shape of expanded objects as it is (no `Short`, `RequestedTags`...). */
  plain: boolean;
  /** Shares the event loop: testing candidates is done in slices between other requests. */
  pacer: Pacer;
}

/**
 * Runs a metadata find:
 * 1. Constraints that Orthanc's `MetadataQuery` answers the same way go to Orthanc with the rest
 *    of the body (when `native` is on and Orthanc has ExtendedFind); when every constraint went,
 *    `Limit` and `Since` go too, and Orthanc does all the work.
 * 2. Otherwise Orthanc answers the whole query without `Limit` and `Since`, in its own order, and
 *    the candidates' metadata are tested here; `Since`/`Limit` apply to what matched, over the
 *    whole ordered answer. The metadata come with the find itself on Orthanc 1.12.5+
 *    (`ResponseContent: ["Metadata"]`), or are read by the `reader` in batches, in the answer's
 *    order, until the page is full.
 * 3. With `Expand`, each object gets the resource's `Metadata` map. The objects are those of
 *    `/tools/bulk-content` (the same as an expanded find's), for the resources read (before
 *    1.12.5) or kept (1.12.5+); a body that shapes them (`Short`, `RequestedTags`, ...) gets
 *    Orthanc's expanded find.
 * A resource deleted while the query runs is left out. A find Orthanc refuses (a bad `Query`)
 * throws its `OrthancHttpError`: the host answers the caller with Orthanc's status and fields.
 */
export async function runMetadataFind(
  orthanc: OrthancBinding,
  reader: MetadataReader,
  query: MetadataFind,
  support: OrthancFindSupport,
  native: boolean,
  pacer: Pacer,
): Promise<FindOutcome> {
  const readBefore = reader.resourcesRead;
  const callerQuery = isObject(query.forwarded.MetadataQuery) ? query.forwarded.MetadataQuery : undefined;
  // Metadata names come from the caller: own keys only (`__proto__` and `toString` are names too).
  const nativeQuery: Record<string, string> = Object.create(null) as Record<string, string>;
  const scanned = query.filters.filter((filter) => {
    const translatable =
      native &&
      support.hasExtendedFind &&
      filter.native !== undefined &&
      support.knownNames.has(filter.name) &&
      !(callerQuery && Object.hasOwn(callerQuery, filter.name)) &&
      !Object.hasOwn(nativeQuery, filter.name);
    if (translatable) nativeQuery[filter.name] = filter.native!;
    return !translatable;
  });
  const body: Record<string, unknown> = { ...query.forwarded };
  if (Object.keys(nativeQuery).length > 0) body.MetadataQuery = Object.assign(Object.create(null) as object, callerQuery, nativeQuery);
  if (scanned.length === 0) {
    if (query.limit) body.Limit = query.limit;
    if (query.since) body.Since = query.since;
  }
  const run: Run = { orthanc, reader, query, body, scanned, plain: Object.keys(body).every((field) => plainFields.has(field)), pacer };

  const withMetadata = support.hasExtendedFind && reader.readsInBulk;
  const { items, metadata } = withMetadata ? await findWithMetadata(run) : await findThenRead(run);
  let kept = items;
  if (scanned.length > 0) kept = pageOfList(await keepMatching(scanned, items, metadata, pacer), query.since, query.limit);
  if (withMetadata && query.expand && run.plain) kept = await expandKept(run, kept);
  const answer = kept
    .filter((item) => typeof item === 'string' || metadata.has(item.ID))
    .map((item) => (typeof item === 'string' ? item : { ...item, Metadata: metadata.get(item.ID) }));
  const stats = {
    native: Object.keys(nativeQuery).length,
    scanned: scanned.length,
    candidates: items.length,
    read: reader.resourcesRead - readBefore,
  };
  return { answer, stats };
}

/**
 * Orthanc 1.12.5+: the candidates with their metadata in one find. A caller's `ResponseContent`
 * gets `Metadata` added, and its objects are the items; a plain `Expand` waits for the filter
 * (`expandKept`); any other `Expand` is a second find, run alongside.
 */
async function findWithMetadata({ orthanc, query, body, plain }: Run): Promise<Candidates> {
  const callerContent = Array.isArray(body.ResponseContent) ? (body.ResponseContent as unknown[]) : undefined;
  const [described, expanded] = await Promise.all([
    find(orthanc, { ...body, ResponseContent: [...(callerContent ?? []), 'Metadata'] }),
    query.expand && !callerContent && !plain ? find(orthanc, { ...body, Expand: true }) : undefined,
  ]);
  const metadata = new Map<string, MetadataMap>();
  for (const item of described as { ID: string; Metadata?: MetadataMap }[]) metadata.set(item.ID, item.Metadata ?? {});
  return { items: expanded ?? (callerContent ? described : described.map(idOf)), metadata };
}

/**
 * Older Orthancs (or `PerResource` reads): the candidates from the find, then their metadata from
 * the reader, in order, until the page is full. With a plain `Expand`, the find answers IDs and
 * the objects come from the bulk reads.
 */
async function findThenRead({ orthanc, reader, query, body, scanned, plain, pacer }: Run): Promise<Candidates> {
  const objects = query.expand && reader.readsInBulk && plain ? new Map<string, object>() : undefined;
  let items = await find(orthanc, { ...body, Expand: query.expand && !objects });
  const metadata = new Map<string, MetadataMap>();
  const wanted = query.limit ? query.since + query.limit : Infinity;
  const batches = reader.batches(items.map(idOf), wanted);
  // Deleting a child rewrites its ancestors' LastUpdate on Orthanc 1.12, and deletions are not in
  // /changes: the index cannot vouch for a patient's, study's or series' LastUpdate.
  const useIndex =
    !objects && (query.levelPath === 'instances' || (!query.expand && !scanned.some((filter) => filter.name === 'LastUpdate')));
  let counted = 0;
  let matched = 0;
  const enough = async (batchesRead: number) => {
    if (scanned.length === 0) return !query.expand; // nothing to test; only Expand needs the maps
    for (; counted < batchesRead; counted += 1) matched += (await keepMatching(scanned, batches[counted]!, metadata, pacer)).length;
    return matched >= wanted;
  };
  await reader.readBatches(query.levelPath, batches, metadata, enough, { useIndex, objects, orthanc });
  if (objects) {
    // An Orthanc without /tools/bulk-content left the objects out: ask for the expanded find.
    if (items.some((item) => typeof item === 'string' && metadata.has(item) && !objects.has(item))) {
      for (const item of await find(orthanc, { ...body, Expand: true })) objects.set(idOf(item), item as object);
    }
    items = items.flatMap((item) => (objects.get(idOf(item)) as Item | undefined) ?? []);
  }
  return { items, metadata };
}

/**
 * Orthanc 1.12.5+, plain `Expand`: the kept resources' objects, from `/tools/bulk-content` when
 * they are few, else (or if one is missing) from one expanded find.
 */
async function expandKept({ orthanc, reader, query, body }: Run, kept: Item[]): Promise<Item[]> {
  const objects = new Map<string, Item>();
  const ids = kept.map(idOf);
  if (ids.length <= maxBulkExpand) {
    await reader.readBatches(query.levelPath, reader.batches(ids), new Map(), () => false, {
      useIndex: false,
      objects: objects as Map<string, object>,
      orthanc,
    });
  }
  if (ids.some((id) => !objects.has(id))) {
    for (const item of await find(orthanc, { ...body, Expand: true })) objects.set(idOf(item), item);
  }
  return kept.flatMap((item) => objects.get(idOf(item)) ?? []);
}

/** Orthanc's find; what Orthanc refuses throws its `OrthancHttpError` (status, `OrthancStatus`...). */
function find(orthanc: OrthancBinding, body: Record<string, unknown>): Promise<Item[]> {
  return orthanc.restApiPostJson<Item[]>('/tools/find', body);
}

const idOf = (item: Item) => (typeof item === 'string' ? item : item.ID);

/**
 * The items whose metadata pass every filter, in order. Each test is one step under the pacer: a
 * request's scan (candidates × filters) never holds the event loop longer than a slice.
 */
async function keepMatching<T extends Item>(
  filters: readonly MetadataFilter[],
  items: readonly T[],
  metadata: ReadonlyMap<string, MetadataMap>,
  pacer: Pacer,
): Promise<T[]> {
  const kept: T[] = [];
  for (const item of items) {
    const values = metadata.get(idOf(item));
    if (values === undefined) continue;
    let all = true;
    for (const filter of filters) {
      if (pacer.due) await pacer.pace();
      if (!filter.test(valueOf(values, filter.name))) {
        all = false;
        break;
      }
    }
    if (all) kept.push(item);
  }
  return kept;
}

/** A metadata value, own keys only (a filter on `constructor` must not read Object's). */
const valueOf = (values: MetadataMap, name: string): string => {
  const value = Object.hasOwn(values, name) ? values[name] : undefined;
  return typeof value === 'string' ? value : '';
};

/**
 * Most resources expanded through `/tools/bulk-content` after the filter (Orthanc 1.12.5+); more
 * are left to one expanded find, which costs less per resource there.
 */
const maxBulkExpand = 200;

/** Body fields that leave the shape of an expanded find's objects as it is. */
const plainFields = new Set([
  'Level',
  'Query',
  'Expand',
  'CaseSensitive',
  'Labels',
  'LabelsConstraint',
  'MetadataQuery',
  'ParentPatient',
  'ParentStudy',
  'ParentSeries',
  'OrderBy',
]);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

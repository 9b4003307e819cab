import type { OrthancBinding, RawAnswer } from '../../shared/binding/index.js';
import type { MetadataMap, MetadataReader } from './metadata-reader.js';
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
  'IndexInSeries', 'ReceptionDate', 'RemoteAET', 'ExpectedNumberOfInstances', 'ModifiedFrom', 'AnonymizedFrom', 'LastUpdate',
  'Origin', 'TransferSyntax', 'SopClassUid', 'RemoteIP', 'CalledAET', 'HttpUsername', 'PixelDataOffset', 'MainDicomTagsSignature',
  'MainDicomSequences', 'PixelDataVR',
];

/** One answer of the recipe: either Orthanc's own error answer, passed on, or the JSON to send. */
export type FindOutcome = { orthancError: RawAnswer } | { answer: unknown[]; stats: FindStats };

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
 * A resource deleted while the query runs is left out.
 */
export async function runMetadataFind(orthanc: OrthancBinding, reader: MetadataReader, query: MetadataFind, support: OrthancFindSupport, native: boolean): Promise<FindOutcome> {
  const readBefore = reader.resourcesRead;
  const callerQuery = isObject(query.forwarded.MetadataQuery) ? query.forwarded.MetadataQuery : undefined;
  const nativeQuery: Record<string, string> = {};
  const scanned = query.filters.filter((filter) => {
    const translatable =
      native &&
      support.hasExtendedFind &&
      filter.native !== undefined &&
      support.knownNames.has(filter.name) &&
      !(callerQuery && filter.name in callerQuery) &&
      !(filter.name in nativeQuery);
    if (translatable) nativeQuery[filter.name] = filter.native!;
    return !translatable;
  });

  const base: Record<string, unknown> = { ...query.forwarded };
  if (Object.keys(nativeQuery).length > 0) base.MetadataQuery = { ...callerQuery, ...nativeQuery };
  const onePass = scanned.length === 0;
  if (onePass) {
    if (query.limit) base.Limit = query.limit;
    if (query.since) base.Since = query.since;
  }
  const find = async (body: Record<string, unknown>): Promise<{ items: Item[] } | { error: RawAnswer }> => {
    const answer = await orthanc.restApiRequest('POST', '/tools/find', body);
    return answer.statusCode >= 200 && answer.statusCode < 300 ? { items: JSON.parse(answer.body.toString('utf8')) as Item[] } : { error: answer };
  };
  const idOf = (item: Item) => (typeof item === 'string' ? item : item.ID);
  const metadata = new Map<string, MetadataMap>();
  let items: Item[];

  const plain = Object.keys(base).every((field) => plainFields.has(field));
  let expandKept = false;
  if (support.hasExtendedFind && reader.readsInBulk) {
    const callerContent = Array.isArray(base.ResponseContent) ? (base.ResponseContent as unknown[]) : undefined;
    // A plain Expand is done after the filter, for the resources kept; any other, beside the find.
    expandKept = query.expand && !callerContent && plain;
    const expanded = query.expand && !callerContent && !plain;
    const [described, full] = await Promise.all([
      find({ ...base, ResponseContent: [...(callerContent ?? []), 'Metadata'] }),
      expanded ? find({ ...base, Expand: true }) : undefined,
    ]);
    if ('error' in described) return { orthancError: described.error };
    if (full && 'error' in full) return { orthancError: full.error };
    for (const item of described.items as { ID: string; Metadata?: MetadataMap }[]) metadata.set(item.ID, item.Metadata ?? {});
    items = full ? full.items : callerContent ? described.items : described.items.map(idOf);
  } else {
    // `/tools/bulk-content` answers the very objects of an expanded find (checked on 1.10.1 and
    // 1.12.7) when the body asks for no other format: then the IDs are enough from the find.
    const objects = query.expand && reader.readsInBulk && plain ? new Map<string, object>() : undefined;
    const found = await find({ ...base, Expand: query.expand && !objects });
    if ('error' in found) return { orthancError: found.error };
    items = found.items;
    const wanted = query.limit ? query.since + query.limit : Infinity;
    const batches = reader.batches(items.map(idOf), wanted);
    // Deleting a child rewrites its ancestors' LastUpdate on Orthanc 1.12, and deletions are not in
    // /changes: the index cannot vouch for a patient's, study's or series' LastUpdate.
    const useIndex = !objects && (query.levelPath === 'instances' || (!query.expand && !scanned.some((filter) => filter.name === 'LastUpdate')));
    let counted = 0;
    let matched = 0;
    await reader.readBatches(query.levelPath, batches, metadata, (batchesRead) => {
      if (onePass) return !query.expand;
      for (; counted < batchesRead; counted += 1) matched += batches[counted]!.filter((id) => matches(metadata.get(id))).length;
      return matched >= wanted;
    }, { useIndex, objects });
    if (objects) {
      // An Orthanc without /tools/bulk-content left the objects out: ask for the expanded find.
      const expanded = items.some((item) => typeof item === 'string' && metadata.has(item) && !objects.has(item)) ? await find({ ...base, Expand: true }) : undefined;
      if (expanded && 'error' in expanded) return { orthancError: expanded.error };
      if (expanded) for (const item of expanded.items) objects.set(idOf(item), item as object);
      items = items.flatMap((item) => {
        const object = objects.get(idOf(item));
        return object ? [object as Item] : [];
      });
    }
  }

  function matches(values: MetadataMap | undefined): boolean {
    return values !== undefined && scanned.every((filter) => filter.test(values[filter.name] ?? ''));
  }
  let kept = items;
  if (!onePass) {
    const all = items.filter((item) => matches(metadata.get(idOf(item))));
    kept = query.limit ? all.slice(query.since, query.since + query.limit) : all.slice(query.since);
  }
  if (expandKept) {
    const objects = new Map<string, Item>();
    const ids = kept.map(idOf);
    if (ids.length <= maxBulkExpand) {
      await reader.readBatches(query.levelPath, reader.batches(ids), new Map(), () => false, { useIndex: false, objects: objects as Map<string, object> });
    }
    if (ids.some((id) => !objects.has(id))) {
      const expanded = await find({ ...base, Expand: true });
      if ('error' in expanded) return { orthancError: expanded.error };
      for (const item of expanded.items) objects.set(idOf(item), item);
    }
    kept = kept.flatMap((item) => objects.get(idOf(item)) ?? []);
  }
  const answer = kept
    .filter((item) => typeof item === 'string' || metadata.has(item.ID))
    .map((item) => (typeof item === 'string' ? item : { ...item, Metadata: metadata.get(item.ID) }));
  return { answer, stats: { native: Object.keys(nativeQuery).length, scanned: scanned.length, candidates: items.length, read: reader.resourcesRead - readBefore } };
}

/**
 * Most resources expanded through `/tools/bulk-content` after the filter (Orthanc 1.12.5+); more
 * are left to one expanded find, which costs less per resource there.
 */
const maxBulkExpand = 200;

/** Body fields that leave the shape of an expanded find's objects as it is. */
const plainFields = new Set(['Level', 'Query', 'Expand', 'CaseSensitive', 'Labels', 'LabelsConstraint', 'MetadataQuery', 'ParentPatient', 'ParentStudy', 'ParentSeries', 'OrderBy']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
